"""Removing a source from the store: one no longer configured, or made by an ad-hoc
ingest. Its articles go with it only when the caller says so."""

from __future__ import annotations

from sqlalchemy import Engine, delete, func, select

from db import models, revisions
from db.errors import StoreError


class SourceNotEmptyError(StoreError):
    """The source still has articles and the caller did not ask to delete them."""

    def __init__(self, name: str, articles: int) -> None:
        super().__init__(f'source "{name}" still has {articles} articles')
        self.articles = articles


def remove_source(engine: Engine, name: str, *, with_articles: bool) -> int | None:
    """Delete the source named `name`, with its articles when `with_articles` (their tags,
    topic links and search entries follow by cascade). Returns how many articles were
    deleted, or None when no source has that name; raises `SourceNotEmptyError` when it has
    articles and `with_articles` is false."""
    s, a = models.Source, models.Article
    with engine.begin() as connection:
        source_id = connection.execute(
            select(s.id).where(s.name == name).with_for_update()
        ).scalar()
        if source_id is None:
            return None
        count = int(
            connection.execute(
                select(func.count()).select_from(a).where(a.source_id == source_id)
            ).scalar()
            or 0
        )
        if count and not with_articles:
            raise SourceNotEmptyError(name, count)
        deleted = int(connection.execute(delete(a).where(a.source_id == source_id)).rowcount or 0)
        connection.execute(delete(s).where(s.id == source_id))
        if deleted:
            revisions.bump(connection)
        return deleted
