"""Maintenance: pruning old articles, deleting a source's articles, and the database's
own routine upkeep."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, delete, func, or_, select

from db.tables import ARTICLES, chunks, rowcount


def prune(
    engine: Engine,
    *,
    older_than: datetime | None = None,
    keep_per_source: int | None = None,
    protect: Collection[int] = (),
) -> int:
    """Delete articles published before `older_than`, or beyond the newest
    `keep_per_source` of their source, except the ids in `protect` (what the published
    feeds still show). Returns how many went; tags, topic links and the search index
    follow by cascade."""
    a = ARTICLES.c
    ranked = select(
        a.id,
        a.published,
        func.row_number()
        .over(partition_by=a.source_id, order_by=(a.published.desc(), a.id.desc()))
        .label("rank"),
    ).subquery()
    conditions: list[ColumnElement[bool]] = []
    if older_than is not None:
        conditions.append(ranked.c.published < older_than)
    if keep_per_source:
        conditions.append(ranked.c.rank > keep_per_source)
    if not conditions:
        return 0
    protected = set(protect)
    deleted = 0
    with engine.begin() as connection:
        doomed = [
            i
            for i in connection.execute(select(ranked.c.id).where(or_(*conditions))).scalars()
            if i not in protected
        ]
        for chunk in chunks(doomed):
            deleted += rowcount(connection.execute(delete(ARTICLES).where(a.id.in_(chunk))))
    return deleted


def delete_source_articles(engine: Engine, source_id: int, guids: Iterable[str]) -> int:
    """Remove the given articles of a source; returns how many went."""
    guid_list = list(guids)
    if not guid_list:
        return 0
    a = ARTICLES.c
    with engine.begin() as connection:
        return rowcount(
            connection.execute(
                delete(ARTICLES).where(a.source_id == source_id, a.guid.in_(guid_list))
            )
        )


def optimize(engine: Engine) -> None:
    """Routine maintenance: SQLite's `PRAGMA optimize` (PostgreSQL has autovacuum)."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA optimize")
