"""Maintenance: pruning old articles, deleting a source's articles, and the database's
own routine upkeep."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, delete, func, or_, select

from db import counters, revisions
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
        a.source_id,
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
        found = connection.execute(select(ranked.c.id, ranked.c.source_id).where(or_(*conditions)))
        doomed = [(i, source) for i, source in found if i not in protected]
        for chunk in chunks(doomed):
            ids = [i for i, _source in chunk]
            deleted += rowcount(connection.execute(delete(ARTICLES).where(a.id.in_(ids))))
        # The sources' article totals (`db.counters`) follow in the same transaction.
        removed: dict[int, int] = {}
        for _i, source in doomed:
            removed[source] = removed.get(source, 0) + 1
        counters.forget(connection, removed)
        if deleted:
            revisions.bump(connection)
    return deleted


def delete_source_articles(engine: Engine, source_id: int, guids: Iterable[str]) -> int:
    """Remove the given articles of a source; returns how many went."""
    guid_list = list(guids)
    if not guid_list:
        return 0
    a = ARTICLES.c
    with engine.begin() as connection:
        gone = rowcount(
            connection.execute(
                delete(ARTICLES).where(a.source_id == source_id, a.guid.in_(guid_list))
            )
        )
        counters.forget(connection, {source_id: gone})
        if gone:
            revisions.bump(connection)
        return gone


def optimize(engine: Engine) -> None:
    """Routine maintenance: SQLite's `PRAGMA optimize` (PostgreSQL has autovacuum)."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA optimize")
