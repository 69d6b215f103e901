"""Cheap change stamps: which articles a feed holds and their versions, without loading them.

Used by `feeds.build` to skip feeds whose inputs did not change.

A no-change build must cost a small fraction of a full one, and loading full articles
(content, tags, ORM objects) is most of a build's database time. These queries make the
same selection as `Store.latest_articles` (same filters, order and limit) but read only
`(id, content_hash, updated)` through SQLAlchemy Core, built once (statement construction
costs more than running them) and run on one connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    Select,
    String,
    bindparam,
    cast,
    select,
    union_all,
)

from db.records import Section, SectionKind
from db.selection import SLUG, section_walks
from db.tables import ARTICLES, LINKS, SOURCES, VISIBLE

Stamp = tuple[int, str, str]

_A = ARTICLES
_LIMIT: BindParameter[int] = bindparam("limit")


def _filtered(
    columns: Sequence[ColumnElement[Any]],
) -> dict[SectionKind | None, Select[Any]]:
    """The selections of a feed (all, one category, source, tag, topic or author) of
    `columns`: each section's walk (`db.selection`), newest first, stopping after `limit`
    rows. A tag feed orders by the copies of `published`, which equal the originals."""
    statements = {
        kind: walk.newest_first().limit(_LIMIT) for kind, walk in section_walks(columns).items()
    }
    statements["source"] = _source_feed(columns)
    return statements


def _source_feed(
    columns: Sequence[ColumnElement[Any]],
) -> Select[Any]:
    """A source's feed: its own articles and those of other sources it also brought
    (`article_links`, cross-source duplicates), newest first.

    Two index walks of at most `limit` rows each (`ix_articles_source_published`, and the
    source's links, few by nature), merged and cut to `limit`: one OR condition instead
    would make both databases read every article of the source and sort them.
    """
    keys = (_A.c.published.label("k_published"), _A.c.id.label("k_id"))
    own = section_walks((*columns, *keys))["source"]
    source_id = select(SOURCES.c.id).where(SOURCES.c.slug == SLUG).scalar_subquery()
    linked = (
        select(*columns, *keys)
        .select_from(LINKS)
        .join(_A, _A.c.id == LINKS.c.article_id)
        .where(LINKS.c.source_id == source_id, VISIBLE)
    )
    order = (_A.c.published.desc(), _A.c.id.desc())
    both = union_all(
        *(select(q.order_by(*order).limit(_LIMIT).subquery()) for q in (own.query, linked))
    ).subquery()
    wanted = list(both.c)[: len(columns)]
    return select(*wanted).order_by(both.c.k_published.desc(), both.c.k_id.desc()).limit(_LIMIT)


# `updated` as text: only compared, so the datetime conversion of every row is skipped.
# `linked_sources` joins the content hash: a feed naming an article's other sources
# changes when one is linked. Statements are built once: constructing them costs more
# than running them.
_STAMPS = _filtered(
    (
        _A.c.id,
        _A.c.content_hash + "+" + cast(_A.c.linked_sources, String),
        cast(_A.c.updated, String),
    )
)
_IDS = _filtered((_A.c.id,))


def _choose(
    statements: dict[SectionKind | None, Select[Any]], limit: int, section: Section | None
) -> tuple[Select[Any], dict[str, object]]:
    params: dict[str, object] = {"limit": limit}
    if section is None:
        return statements[None], params
    params["slug"] = section.slug
    return statements[section.kind], params


def latest_ids(connection: Connection, limit: int, section: Section | None = None) -> list[int]:
    """Ids of the articles `Store.latest_articles` returns, in its order."""
    statement, params = _choose(_IDS, limit, section)
    return [row[0] for row in connection.execute(statement, params)]


class StampReader:
    """Runs the stamp queries of one build on one connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def latest(self, limit: int, section: Section | None = None) -> list[Stamp]:
        """Stamps of the articles `Store.latest_articles` would return."""
        statement, params = _choose(_STAMPS, limit, section)
        # `all()` fetches every row in one DBAPI `fetchall`: iterating the result fetched
        # them one `fetchone` at a time, most of a no-change build's time.
        rows = self._connection.execute(statement, params).all()
        return [(row[0], row[1], row[2]) for row in rows]


@contextmanager
def stamp_reader(engine: Engine) -> Iterator[StampReader]:
    """A reader on one connection of `engine` (see `Store.stamp_reader`)."""
    with engine.connect() as connection:
        yield StampReader(connection)
