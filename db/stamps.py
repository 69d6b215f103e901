"""Cheap change stamps: which articles a feed holds and their versions, without loading them.

Used by `feeds.build` to skip feeds whose inputs did not change.

A no-change build must cost a small fraction of a full one, and loading full articles
(content, tags, ORM objects) is most of a build's database time. These queries make the
same selection as `Store.latest_articles` (same filters, order and limit) but read only
`(id, content_hash, updated)`, through statements built once in SQLAlchemy Core and run,
compiled once per kind of database, on the driver's cursor of one connection
(`db.driver`).

The stamps of many feeds are read together (`StampReader.latest_of`): each feed's ids
from its index walk alone, hidden articles included, then the stamp and the `hidden` flag
of every article once, however many feeds hold it. Those columns sit in each row after the
article's texts, so reading them costs a walk through the row's overflow page, and every
article is in several feeds (the root feed, its category, source and tag feeds). A feed
whose walk met a hidden article (or one deleted meanwhile) is read again with the filter.
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

from db.driver import DriverCursor, compiled_for
from db.records import Section, SectionKind
from db.selection import SLUG, section_id_walks, section_walks
from db.tables import ARTICLES, CHUNK, LINKS, SOURCES, VISIBLE, chunks

Stamp = tuple[int, str, str]

_A = ARTICLES
_LIMIT: BindParameter[int] = bindparam("limit")
_Statements = dict[SectionKind | None, Select[Any]]


def _filtered(columns: Sequence[ColumnElement[Any]]) -> _Statements:
    """The selections of a feed (all, one category, source, tag, topic or author) of
    `columns`: each section's walk (`db.selection`), newest first, stopping after `limit`
    rows. A tag feed orders by the copies of `published`, which equal the originals."""
    walks = section_walks(columns)
    statements = {kind: walk.newest_first().limit(_LIMIT) for kind, walk in walks.items()}
    statements["source"] = _source_feed(columns)
    return statements


def _walked_ids() -> _Statements:
    """The ids of `_filtered`'s selections with hidden articles left in: index walks
    that read no row of `articles`."""
    walks = section_id_walks()
    statements = {kind: walk.newest_first().limit(_LIMIT) for kind, walk in walks.items()}
    statements["source"] = _source_feed((_A.c.id,), hidden_too=True)
    return statements


def _source_feed(columns: Sequence[ColumnElement[Any]], *, hidden_too: bool = False) -> Select[Any]:
    """A source's feed: its own articles and those of other sources it also brought
    (`article_links`, cross-source duplicates), newest first.

    Two index walks of at most `limit` rows each (`ix_articles_source_published`, and the
    source's links, few by nature), merged and cut to `limit`: one OR condition instead
    would make both databases read every article of the source and sort them.
    """
    keys = (_A.c.published.label("k_published"), _A.c.id.label("k_id"))
    own = section_walks((*columns, *keys), hidden_too=hidden_too)["source"]
    source_id = select(SOURCES.c.id).where(SOURCES.c.slug == SLUG).scalar_subquery()
    linked = (
        select(*columns, *keys)
        .select_from(LINKS)
        .join(_A, _A.c.id == LINKS.c.article_id)
        .where(LINKS.c.source_id == source_id)
    )
    if not hidden_too:
        linked = linked.where(VISIBLE)
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
_STAMP_COLUMNS = (
    _A.c.content_hash + "+" + cast(_A.c.linked_sources, String),
    cast(_A.c.updated, String),
)
_STAMPS = _filtered((_A.c.id, *_STAMP_COLUMNS))
_IDS = _filtered((_A.c.id,))
# Each feed's ids, hidden articles included: its index alone, no article row.
_WALKED_IDS = _walked_ids()
# The stamps of `CHUNK` given ids (a shorter list repeats its last id), with the flag.
_BY_ID = select(_A.c.id, _A.c.hidden, *_STAMP_COLUMNS).where(
    _A.c.id.in_([bindparam(f"id{n}") for n in range(CHUNK)])
)


def _choose(
    statements: _Statements, limit: int, section: Section | None
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
    """Runs the stamp queries of one build on one connection, on the driver's cursor
    (`db.driver`): a build runs a few per feed, and SQLAlchemy's handling of each
    statement and row cost more than the database's work."""

    def __init__(self, connection: Connection) -> None:
        self._dialect = connection.dialect
        self._driver = DriverCursor(connection)

    def latest(self, limit: int, section: Section | None = None) -> list[Stamp]:
        """Stamps of the articles `Store.latest_articles` would return."""
        return self.latest_of([(limit, section)])[0]

    def latest_of(self, wanted: Sequence[tuple[int, Section | None]]) -> list[list[Stamp]]:
        """`latest(limit, section)` of each (limit, section), in that order."""
        walked = [self._run(_WALKED_IDS, limit, section) for limit, section in wanted]
        found = self._stamps_by_id({row[0] for rows in walked for row in rows})
        stamped: list[list[Stamp]] = []
        for (limit, section), rows in zip(wanted, walked, strict=True):
            stamps = [stamp for row in rows if (stamp := found.get(row[0])) is not None]
            if len(stamps) == len(rows):
                stamped.append(stamps)
            else:
                # A hidden article in the walk (or one deleted since): the feed's own
                # filtered read, which walks on past it.
                stamped.append(self._run(_STAMPS, limit, section))
        return stamped

    def _run(self, statements: _Statements, limit: int, section: Section | None) -> list[Any]:
        statement, params = _choose(statements, limit, section)
        return self._driver.rows(compiled_for(statement, self._dialect), params)

    def _stamps_by_id(self, ids: set[int]) -> dict[int, Stamp | None]:
        """The stamp of each of these articles that still exists, None if it is hidden."""
        found: dict[int, Stamp | None] = {}
        statement = compiled_for(_BY_ID, self._dialect)
        for chunk in chunks(sorted(ids)):
            padded = [*chunk, *[chunk[-1]] * (CHUNK - len(chunk))]
            values = {f"id{n}": value for n, value in enumerate(padded)}
            for article_id, hidden, version, updated in self._driver.rows(statement, values):
                found[article_id] = None if hidden else (article_id, version, updated)
        return found

    def close(self) -> None:
        self._driver.close()


@contextmanager
def stamp_reader(engine: Engine) -> Iterator[StampReader]:
    """A reader on one connection of `engine` (see `Store.stamp_reader`)."""
    with engine.connect() as connection:
        reader = StampReader(connection)
        try:
            yield reader
        finally:
            reader.close()
