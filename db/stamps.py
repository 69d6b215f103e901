"""Cheap change stamps: which articles a feed holds and their versions, without loading them.

Used by `feeds.build` to skip feeds whose inputs did not change.

A no-change build must cost a small fraction of a full one, and loading full articles
(content, tags, ORM objects) is most of a build's database time. These queries make the
same selection as `Store.latest_articles` (same filters, order and limit) but read only
`(id, content_hash, updated)` through SQLAlchemy Core, built once (statement construction
costs more than running them) and run on one connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import BindParameter, Connection, Engine, Select, String, bindparam, cast, select

from db import models

Stamp = tuple[int, str, str]

_A = models.Article
# `updated` as text: only compared, and skipping the datetime conversion halves the time.
_BASE = select(_A.id, _A.content_hash, cast(_A.updated, String))
_ORDER = (_A.published.desc(), _A.id.desc())
_LIMIT: BindParameter[int] = bindparam("limit")
_SLUG: BindParameter[str] = bindparam("slug")

_ALL = _BASE.order_by(*_ORDER).limit(_LIMIT)
_BY_CATEGORY = (
    _BASE.join(models.Category, models.Category.id == _A.category_id)
    .where(models.Category.slug == _SLUG)
    .order_by(*_ORDER)
    .limit(_LIMIT)
)
_BY_SOURCE = (
    _BASE.join(models.Source, models.Source.id == _A.source_id)
    .where(models.Source.slug == _SLUG)
    .order_by(*_ORDER)
    .limit(_LIMIT)
)
_BY_TAG = (
    _BASE.where(
        _A.id.in_(
            select(models.article_tags.c.article_id)
            .join(models.Tag, models.Tag.id == models.article_tags.c.tag_id)
            .where(models.Tag.slug == _SLUG)
        )
    )
    .order_by(*_ORDER)
    .limit(_LIMIT)
)


class StampReader:
    """Runs the stamp queries of one build on one connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def latest(
        self,
        limit: int,
        *,
        category: str | None = None,
        source: str | None = None,
        tag: str | None = None,
    ) -> list[Stamp]:
        """Stamps of the articles `Store.latest_articles` would return (one filter at most)."""
        statement: Select[int, str, str] = _ALL
        params: dict[str, object] = {"limit": limit}
        for value, filtered in ((category, _BY_CATEGORY), (source, _BY_SOURCE), (tag, _BY_TAG)):
            if value is not None:
                statement, params["slug"] = filtered, value
        return [(row[0], row[1], row[2]) for row in self._connection.execute(statement, params)]


@contextmanager
def stamp_reader(engine: Engine) -> Iterator[StampReader]:
    """A reader on one connection of `engine` (see `Store.stamp_reader`)."""
    with engine.connect() as connection:
        yield StampReader(connection)
