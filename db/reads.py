"""Reads for the feeds: stored articles as `StoredArticle` records, the newest of a
section, by ids, and page by page through a section's history (keyset reads).

Every read picks ids first (index walks, the same as the change stamps of `db.stamps`)
and then loads those articles with `load_articles`, straight from rows to records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    bindparam,
    select,
    tuple_,
)

from db.records import Label, Section, SectionKind, SourceRef, StoredArticle, picked
from db.selection import section_walks
from db.stamps import latest_ids
from db.tables import (
    ARTICLE_TAGS,
    ARTICLES,
    CATEGORIES,
    LINKS,
    SOURCES,
    TAGS,
    chunks,
)
from db.types import UTCDateTime

Key = tuple[datetime, int]
"""(published, id) of an article: where a keyset read starts."""

_OWN = (
    "id",
    "uid",
    "guid",
    "title",
    "summary",
    "content_html",
    "content_text",
    "published",
    "updated",
    "ingested",
    "url",
    "language",
    "slug",
    "image_url",
)
"""Columns of `articles` a `StoredArticle` takes over as they are, under the same names."""
_SAME_NAMES = (*_OWN, "source_name", "source_slug")

_ARTICLE_READ = (
    select(
        *(ARTICLES.c[name] for name in _OWN),
        SOURCES.c.name.label("source_name"),
        SOURCES.c.slug.label("source_slug"),
        ARTICLES.c.authors,
        CATEGORIES.c.name.label("category_name"),
        CATEGORIES.c.slug.label("category_slug"),
        ARTICLES.c.linked_sources,
        ARTICLES.c.page_path,
    )
    .join(SOURCES, SOURCES.c.id == ARTICLES.c.source_id)
    .outerjoin(CATEGORIES, CATEGORIES.c.id == ARTICLES.c.category_id)
)
_TAG_READ = (
    select(ARTICLE_TAGS.c.article_id, TAGS.c.name, TAGS.c.slug)
    .join(TAGS, TAGS.c.id == ARTICLE_TAGS.c.tag_id)
    .order_by(ARTICLE_TAGS.c.article_id, TAGS.c.slug)
)
_ALSO_READ = (
    select(LINKS.c.article_id, SOURCES.c.name, SOURCES.c.slug, LINKS.c.url)
    .join(SOURCES, SOURCES.c.id == LINKS.c.source_id)
    .order_by(LINKS.c.article_id, SOURCES.c.slug)
)


def _paged_statements() -> dict[tuple[SectionKind | None, str], Select[Any]]:
    """Ids of one section in (published, id) order, by (section kind, mode).

    Modes: `offset` (oldest first, skipping `offset`), `after` (oldest first, after a
    (published, id) key) and `before` (newest first, before a key). The same index walks
    as the stamps (`db.stamps`): `ix_articles_published`, `ix_articles_category_published`,
    `ix_articles_source_published`, and for a tag `ix_article_tags_tag_published` (whose
    `published` copies the article's; likewise `ix_article_authors_author_published`, and
    for a topic the primary key of `topic_articles`, (topic_slug, published, article_id));
    a key is a range start on the index, so a keyset read costs the same at any depth.
    Built once: constructing statements costs more than running these.
    """
    key = tuple_(bindparam("key_published", type_=UTCDateTime()), bindparam("key_id"))
    statements: dict[tuple[SectionKind | None, str], Select[Any]] = {}
    for section, walk in section_walks((ARTICLES.c.id,)).items():
        base, published, ident = walk.query, walk.published, walk.ident
        row = tuple_(published, ident)
        ascending = (published.asc(), ident.asc())
        descending = (published.desc(), ident.desc())
        for mode, query, order in (
            ("offset", base, ascending),
            ("after", base.where(row > key), ascending),
            ("before", base.where(row < key), descending),
        ):
            statements[(section, mode)] = (
                query.order_by(*order).limit(bindparam("limit")).offset(bindparam("offset"))
            )
    return statements


_PAGED_IDS = _paged_statements()


def _also_on(connection: Connection, rows: Sequence[Any]) -> dict[int, tuple[SourceRef, ...]]:
    """The other sources carrying these article rows, read only for those that have any
    (`linked_sources`), so a build over unlinked articles costs no extra query."""
    linked = [row.id for row in rows if row.linked_sources]
    found: dict[int, list[SourceRef]] = {}
    if linked:
        for article_id, name, slug, url in connection.execute(
            _ALSO_READ.where(LINKS.c.article_id.in_(linked))
        ):
            found.setdefault(article_id, []).append(SourceRef(name, slug, url))
    return {article_id: tuple(refs) for article_id, refs in found.items()}


def _record(row: Any, tags: Sequence[Label], also: tuple[SourceRef, ...]) -> StoredArticle:
    category = row.category_slug
    return StoredArticle(
        **picked(row, _SAME_NAMES),
        authors=tuple(row.authors or ()),
        category=Label(row.category_name, category) if category is not None else None,
        tags=tuple(tags),
        also_on=also,
        page_path=row.page_path or "",
    )


def load_articles(connection: Connection, ids: Sequence[int]) -> dict[int, StoredArticle]:
    """Articles by id, two queries per chunk of ids (three when some were linked from
    other sources), straight from rows to records (Core: the ORM's identity map and
    lazy-load machinery cost more than the rows themselves)."""
    found: dict[int, StoredArticle] = {}
    for chunk in chunks(ids):
        tags: dict[int, list[Label]] = {}
        for article_id, name, slug in connection.execute(
            _TAG_READ.where(ARTICLE_TAGS.c.article_id.in_(chunk))
        ):
            tags.setdefault(article_id, []).append(Label(name, slug))
        rows = connection.execute(_ARTICLE_READ.where(ARTICLES.c.id.in_(chunk))).all()
        also = _also_on(connection, rows)
        for row in rows:
            found[row.id] = _record(row, tags.get(row.id, ()), also.get(row.id, ()))
    return found


def latest_articles(
    engine: Engine, limit: int, section: Section | None = None
) -> list[StoredArticle]:
    """The newest `limit` articles, of one section or of the whole store.

    Order is published descending with the id as tie-break, so it is stable.
    """
    with engine.connect() as connection:
        ids = latest_ids(connection, limit, section)
        found = load_articles(connection, ids)
    return [found[i] for i in ids if i in found]


def articles_by_ids(engine: Engine, ids: Iterable[int]) -> dict[int, StoredArticle]:
    """The stored articles with these ids (those that still exist), by id.

    For a build that already knows each feed's ids from its stamps: every article is
    in several feeds (root, category, source, tags), so loading the union once and
    slicing it per feed reads each article once instead of four or five times.
    """
    wanted = list(dict.fromkeys(ids))
    with engine.connect() as connection:
        return load_articles(connection, wanted)


def paged(
    engine: Engine,
    mode: str,
    limit: int,
    section: Section | None,
    *,
    offset: int = 0,
    key: Key | None = None,
) -> list[StoredArticle]:
    """One page of a section's articles (`_paged_statements` says what `mode` means)."""
    params: dict[str, object] = {"limit": limit, "offset": offset}
    if section is not None:
        params["slug"] = section.slug
    if key is not None:
        params["key_published"], params["key_id"] = key
    kind = None if section is None else section.kind
    with engine.connect() as connection:
        ids = [row[0] for row in connection.execute(_PAGED_IDS[(kind, mode)], params)]
        found = load_articles(connection, ids)
    return [found[i] for i in ids if i in found]
