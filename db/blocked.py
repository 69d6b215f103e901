"""What keep/block rules did to the store: entries kept out (remembered by guid, so the
next poll does not count them as new again) and articles hidden from every feed by
`rassegna rules apply` (not deleted; `--undo` shows them again).

Functions take an Engine and return plain values, like the rest of `db`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, exists, func, select, update

from db import models, revisions
from db.tables import ARTICLES, BLOCKED, chunks, dialect_insert, rowcount


@dataclass(frozen=True, slots=True)
class BlockedEntry:
    """One entry a rule kept out of the store: its guid, its title, and why."""

    guid: str
    title: str
    reason: str


def remember_blocked(
    engine: Engine, source_id: int, entries: Sequence[BlockedEntry], when: datetime
) -> list[BlockedEntry]:
    """Remember `entries` as blocked for the source; returns those not remembered before
    (the ones to count and log)."""
    if not entries:
        return []
    table = BLOCKED
    unique = {e.guid: e for e in entries}
    with engine.begin() as connection:
        known: set[str] = set()
        for chunk in chunks(list(unique)):
            known.update(
                connection.execute(
                    select(table.c.guid).where(
                        table.c.source_id == source_id, table.c.guid.in_(chunk)
                    )
                ).scalars()
            )
        fresh = [e for guid, e in unique.items() if guid not in known]
        if fresh:
            # Another writer may have remembered the same entry meanwhile: no error.
            connection.execute(
                dialect_insert(connection, table).on_conflict_do_nothing(),
                [
                    {
                        "source_id": source_id,
                        "guid": e.guid,
                        "title": e.title,
                        "reason": e.reason,
                        "blocked_at": when,
                    }
                    for e in fresh
                ],
            )
    return fresh


def forget_blocked(engine: Engine, source_id: int, guids: Sequence[str]) -> None:
    """Entries now stored (a rule changed) are no longer counted as blocked."""
    table = BLOCKED
    with engine.begin() as connection:
        for chunk in chunks(list(guids)):
            connection.execute(
                table.delete().where(table.c.source_id == source_id, table.c.guid.in_(chunk))
            )


def blocked_counts(engine: Engine) -> dict[str, int]:
    """Entries blocked and not stored since (a rule changed), by source name; sources
    with none are absent."""
    blocked = models.BlockedEntry
    article = models.Article
    stored = exists().where(
        and_(article.source_id == blocked.source_id, article.guid == blocked.guid)
    )
    statement = (
        select(models.Source.name, func.count())
        .join(blocked, blocked.source_id == models.Source.id)
        .where(~stored)
        .group_by(models.Source.name)
    )
    with engine.connect() as connection:
        return {str(name): int(count) for name, count in connection.execute(statement)}


def set_hidden(engine: Engine, article_ids: Sequence[int], hidden: bool) -> int:
    """Hide (or show again) these articles in every feed; returns how many changed. A
    change also raises the results revision (`db.revisions`), in the same transaction, so
    caches kept by other processes (the server's `/cerca`) see it."""
    article = models.Article
    changed = 0
    with engine.begin() as connection:
        for chunk in chunks(article_ids):
            result = connection.execute(
                update(article)
                .where(article.id.in_(list(chunk)), article.hidden != hidden)
                .values(hidden=hidden)
            )
            changed += rowcount(result)
        if changed:
            revisions.bump(connection)
    return changed


def search_stamp(engine: Engine) -> tuple[int, int]:
    """What a cached search answer depends on, in one read of two primary keys: the newest
    article id (a new article may be a new result) and the results revision (a hidden,
    shown, pruned or deleted article leaves or joins the results)."""
    newest = select(func.max(ARTICLES.c.id)).scalar_subquery()
    with engine.connect() as connection:
        row = connection.execute(select(newest, revisions.value_of())).one()
    return int(row[0] or 0), int(row[1] or 0)


def hidden_ids(engine: Engine) -> list[int]:
    """Every hidden article, oldest id first."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(models.Article.id).where(models.Article.hidden).order_by(models.Article.id)
            ).scalars()
        )


def article_ids(engine: Engine, *, since: datetime | None, source: str | None = None) -> list[int]:
    """Stored articles published since `since` (all when None), of one source (by name or
    slug) or of every source, hidden ones included; newest first."""
    article = models.Article
    statement = select(article.id).order_by(article.published.desc(), article.id.desc())
    if since is not None:
        statement = statement.where(article.published >= since)
    if source is not None:
        statement = statement.join(models.Source, models.Source.id == article.source_id).where(
            (models.Source.name == source) | (models.Source.slug == source)
        )
    with engine.connect() as connection:
        return list(connection.execute(statement).scalars())


def hidden_among(engine: Engine, ids: Sequence[int]) -> set[int]:
    """Which of `ids` are hidden."""
    found: set[int] = set()
    with engine.connect() as connection:
        for chunk in chunks(ids):
            found.update(
                connection.execute(
                    select(models.Article.id).where(
                        models.Article.id.in_(list(chunk)), models.Article.hidden
                    )
                ).scalars()
            )
    return found
