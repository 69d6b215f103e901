"""Article page addresses, and the reads the site's pages need.

Every article gets a page address when it is first stored, `articoli/<yyyy>/<mm>/<slug>`
(year and month of its publication in the site's time zone, its slug), unique over the
whole store: a taken address becomes `<slug>-2`, `<slug>-3`... The address is stored in
`articles.page_path` (revision 0010) and never changes afterwards, whatever edits follow,
so a published page keeps its URL. Whether an address is used (a page written, feeds
linking to it) is the publisher's choice (`feeds.pages`): articles with their own URL
usually link there instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, Select, and_, func, or_, select

from db.records import DEFAULT_TIMEZONE
from db.revisions import EDITS, LINKS, RESULTS, TOPICS, value_of
from db.selection import label_slugs, split_slugs
from db.tables import ARTICLES, CATEGORIES, SOURCES, VISIBLE, chunks

ARTICLES_FOLDER = "articoli"
# An article whose title gave no slug still needs a folder name.
FALLBACK_SLUG = "articolo"
# Probed together when a base address is taken (more windows follow when all are).
_PROBE = 20
_UNSAFE = re.compile(r"[^a-z0-9-]+")
_MAX_SLUG = 120


def base_path(slug: str, published: datetime, timezone: str = DEFAULT_TIMEZONE) -> str:
    """The address an article gets when no other article holds it yet: its month is the
    one of `timezone` (the site's), as readers date the article."""
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)  # the store's naive datetimes are UTC
    published = published.astimezone(ZoneInfo(timezone))
    safe = _UNSAFE.sub("-", slug.lower()).strip("-")[:_MAX_SLUG].strip("-") or FALLBACK_SLUG
    return f"{ARTICLES_FOLDER}/{published.year:04d}/{published.month:02d}/{safe}"


def _probe(connection: Connection, candidates: Iterable[str]) -> set[str]:
    """Which of `candidates` are taken (equality probes on the unique index)."""
    found: set[str] = set()
    column = ARTICLES.c.page_path
    for chunk in chunks(sorted(set(candidates))):
        found |= set(connection.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def unique_paths(bases: Sequence[str], taken: set[str]) -> list[str]:
    """Each base, or its first numbered form not in `taken` (nor given to an earlier
    base of the list); `taken` grows with what is handed out."""
    paths = []
    for base in bases:
        path, number = base, 1
        while path in taken:
            number += 1
            path = f"{base}-{number}"
        taken.add(path)
        paths.append(path)
    return paths


def mint_page_paths(
    connection: Connection, wanted: Sequence[tuple[str, datetime]], timezone: str = DEFAULT_TIMEZONE
) -> list[str]:
    """A new, unique page address for each (slug, published) of articles being inserted
    on `connection` (in its transaction), dated in `timezone`. Two writers minting the
    same address at once collide on the unique index; the store's upsert then runs again
    and probes anew."""
    bases = [base_path(slug, published, timezone) for slug, published in wanted]
    taken = _probe(connection, bases)
    pending, start = set(bases) & taken, 2
    while pending:
        numbered = _probe(
            connection, (f"{b}-{n}" for b in pending for n in range(start, start + _PROBE))
        )
        taken |= numbered
        pending = {
            b for b in pending if all(f"{b}-{n}" in numbered for n in range(start, start + _PROBE))
        }
        start += _PROBE
    return unique_paths(bases, taken)


@dataclass(frozen=True, slots=True)
class PageStamp:
    """What an article's page (and its neighbours' links to it) depends on, cheaply read
    for every article: its version, its address, its chain (`chain`: its category, else
    its source) and the slugs of its tags, authors and topics."""

    id: int
    page_path: str
    url: str | None
    published: datetime
    content_hash: str
    updated: datetime
    linked_sources: int
    chain: tuple[str, int]
    tags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()


# Rows fetched per round trip while the stamps are streamed.
_YIELD = 2000


def _own(column: Any) -> ColumnElement[bool]:
    """Rows that may have a page without `remote_pages`: an address and no web URL (a
    superset of `feeds.pages.has_page`; case-sensitive like `feeds.common.is_web_url`)."""
    return and_(
        ARTICLES.c.page_path.is_not(None),
        ARTICLES.c.page_path != "",
        or_(
            column.is_(None),
            and_(
                func.substr(column, 1, 7) != "http://",
                func.substr(column, 1, 8) != "https://",
            ),
        ),
    )


def _stamp_select(*chain: Any) -> Select[Any]:
    """The columns `_stamp_of` reads: seven of the article, the `chain` columns, then its
    tag, author and topic slugs."""
    a = ARTICLES.c
    return select(
        a.id,
        a.page_path,
        a.url,
        a.published,
        a.content_hash,
        a.updated,
        a.linked_sources,
        *chain,
        *label_slugs(a.id),
    )


def _stamp_query(chain: Any, where: ColumnElement[bool]) -> Select[Any]:
    a = ARTICLES.c
    return (
        _stamp_select(chain)
        .where(VISIBLE, where)  # a hidden article has no page until shown again
        .order_by(chain, a.published, a.id)
    )


class PageReader:
    """The reads of one page build, on one connection (`Store.page_reader`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def stamps(self, *, own_only: bool) -> Iterator[PageStamp]:
        """Every article's `PageStamp`, chain by chain (categories, then sources), oldest
        first within a chain, streamed. With `own_only`, only the chains holding an
        article that may have a page without `remote_pages` (`_own`)."""
        a = ARTICLES.c
        in_category = a.category_id.is_not(None)
        categories: ColumnElement[bool] = in_category
        sources: ColumnElement[bool] = a.category_id.is_(None)
        if own_only:
            owned = select(a.category_id).where(VISIBLE, _own(a.url), in_category)
            categories = a.category_id.in_(owned.distinct().scalar_subquery())
            owned_sources = select(a.source_id).where(VISIBLE, _own(a.url), a.category_id.is_(None))
            sources = and_(sources, a.source_id.in_(owned_sources.distinct().scalar_subquery()))
        for kind, chain, where in (("c", a.category_id, categories), ("s", a.source_id, sources)):
            result = self._connection.execute(
                _stamp_query(chain, where).execution_options(yield_per=_YIELD)
            )
            for rows in result.partitions():
                for row in rows:
                    yield _stamp_of(row, (kind, row[7]), 8)

    def mark(self) -> PageMark:
        """The store as a page build starting now sees it (`PageMark`): the newest id on
        the primary key and the revisions by theirs, so it costs the same at any size."""
        row = self._connection.execute(
            select(
                select(func.coalesce(func.max(ARTICLES.c.id), 0)).scalar_subquery(),
                value_of(EDITS),
                value_of(RESULTS),
                value_of(LINKS),
                value_of(TOPICS),
            )
        ).one()
        return PageMark(*(int(value or 0) for value in row))

    def changes(self) -> PageChanges:
        """The reads of an incremental build, on this reader's connection."""
        return PageChanges(self._connection)

    def newest(self) -> datetime | None:
        """The latest publication or update date of any shown article."""
        a = ARTICLES.c
        row = self._connection.execute(
            select(func.max(a.published), func.max(a.updated)).where(VISIBLE)
        ).one()
        dates = [d for d in row if d is not None]
        return max(dates) if dates else None

    def dates(self, ids: Iterable[int]) -> dict[int, tuple[datetime, datetime]]:
        """(published, updated) of each of `ids` that is shown."""
        a = ARTICLES.c
        found: dict[int, tuple[datetime, datetime]] = {}
        for chunk in chunks(sorted(set(ids))):
            query = select(a.id, a.published, a.updated).where(VISIBLE, a.id.in_(chunk))
            for row in self._connection.execute(query):
                found[row[0]] = (row[1], row[2])
        return found


@contextmanager
def page_reader(engine: Engine) -> Iterator[PageReader]:
    """A reader on one connection of `engine` (see `Store.page_reader`)."""
    with engine.connect() as connection:
        yield PageReader(connection)


@dataclass(frozen=True, slots=True)
class PageMark:
    """What a page build saw of the store, read at its start: the newest article id
    (shown or not), and the revisions (`db.revisions`) raised when stored articles are
    edited, when they are hidden, shown, pruned or deleted, when they gain a linked
    source, and when their topics change other than on being stored. A later build that
    finds the same revisions knows that only the articles above `newest_id` can differ."""

    newest_id: int
    edits: int
    results: int
    links: int
    topics: int


def _stamp_of(row: Any, chain: tuple[str, int], tags: int) -> PageStamp:
    """A `PageStamp` of a stamp query row: the same first seven columns, then the chain's
    columns, then the labels from column `tags` on."""
    return PageStamp(
        id=row[0],
        page_path=row[1] or "",
        url=row[2],
        published=row[3],
        content_hash=row[4],
        updated=row[5],
        linked_sources=row[6],
        chain=chain,
        tags=split_slugs(row[tags]),
        authors=split_slugs(row[tags + 1]),
        topics=split_slugs(row[tags + 2]),
    )


def _chain_filter(chain: tuple[str, int]) -> ColumnElement[bool]:
    a = ARTICLES.c
    kind, key = chain
    if kind == "c":
        return a.category_id == key
    return and_(a.category_id.is_(None), a.source_id == key)


class PageChanges:
    """The reads of an incremental page build (`PageReader.changes`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def new_ids(self, mark: PageMark) -> list[int]:
        """Shown articles stored after `mark` (ids above its newest)."""
        a = ARTICLES.c
        query = select(a.id).where(VISIBLE, a.id > mark.newest_id).order_by(a.id)
        return list(self._connection.execute(query).scalars())

    def stamps(self, ids: Iterable[int]) -> dict[int, PageStamp]:
        """The `PageStamp` of each of `ids` that is shown."""
        a = ARTICLES.c
        found: dict[int, PageStamp] = {}
        for chunk in chunks(sorted(set(ids))):
            query = _stamp_select(a.category_id, a.source_id).where(VISIBLE, a.id.in_(chunk))
            for row in self._connection.execute(query):
                category, source = row[7], row[8]
                chain = ("c", category) if category is not None else ("s", source)
                found[row[0]] = _stamp_of(row, chain, 9)
        return found

    def homes(self, ids: Iterable[int]) -> dict[int, tuple[str | None, str]]:
        """The slugs of the category (None: none) and of the source of each of `ids`."""
        a = ARTICLES.c
        found: dict[int, tuple[str | None, str]] = {}
        for chunk in chunks(sorted(set(ids))):
            query = (
                select(a.id, CATEGORIES.c.slug, SOURCES.c.slug)
                .join(SOURCES, SOURCES.c.id == a.source_id)
                .outerjoin(CATEGORIES, CATEGORIES.c.id == a.category_id)
                .where(a.id.in_(chunk))
            )
            for row in self._connection.execute(query):
                found[row[0]] = (row[1], row[2])
        return found

    def neighbours(self, stamp: PageStamp) -> tuple[int | None, int | None]:
        """The ids of the shown articles before and after `stamp` in its chain, in the
        order of `PageReader.stamps` (publication, then id)."""
        a = ARTICLES.c
        when, key = stamp.published, stamp.id
        before = or_(a.published < when, and_(a.published == when, a.id < key))
        after = or_(a.published > when, and_(a.published == when, a.id > key))
        found: list[int | None] = []
        for where, order in (
            (before, (a.published.desc(), a.id.desc())),
            (after, (a.published, a.id)),
        ):
            query = select(a.id).where(VISIBLE, _chain_filter(stamp.chain), where).order_by(*order)
            found.append(self._connection.execute(query.limit(1)).scalar())
        return found[0], found[1]

    def listed(self, prefix: str) -> Iterator[tuple[str, datetime, datetime]]:
        """(page_path, published, updated) of every shown article that may have a page
        without `remote_pages` (`_own`) and whose address starts with `prefix` (a folder,
        ending in `/`): what a part of `sitemap.xml` lists, by address."""
        a = ARTICLES.c
        # A range on the unique index of addresses; "0" follows "/".
        within = and_(a.page_path >= prefix, a.page_path < prefix[:-1] + "0")
        query = (
            select(a.page_path, a.published, a.updated)
            .where(VISIBLE, _own(a.url), within)
            .order_by(a.page_path)
            .execution_options(yield_per=_YIELD)
        )
        for rows in self._connection.execute(query).partitions():
            for row in rows:
                yield row[0], row[1], row[2]

    def recent_ids(self, cutoff: datetime) -> list[int]:
        """Ids of the shown articles of `listed` published at or after `cutoff`."""
        a = ARTICLES.c
        query = select(a.id).where(VISIBLE, _own(a.url), a.published >= cutoff)
        return list(self._connection.execute(query).scalars())
