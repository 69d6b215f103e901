"""Article page addresses, and the reads the site's pages need.

Every article gets a page address when it is first stored, `articoli/<yyyy>/<mm>/<slug>`
(year and month of its publication in UTC, its slug), unique over the whole store: a
taken address becomes `<slug>-2`, `<slug>-3`... The address is stored in
`articles.page_path` (revision 0010) and never changes afterwards, whatever edits follow,
so a published page keeps its URL. Whether an address is used (a page written, feeds
linking to it) is the publisher's choice (`feeds.pages`): articles with their own URL
usually link there instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from db.tables import (
    ARTICLE_AUTHORS,
    ARTICLE_TAGS,
    ARTICLES,
    AUTHORS,
    TAGS,
    TOPIC_ARTICLES,
    VISIBLE,
    chunks,
)

ARTICLES_FOLDER = "articoli"
# An article whose title gave no slug still needs a folder name.
FALLBACK_SLUG = "articolo"
# Probed together when a base address is taken (more windows follow when all are).
_PROBE = 20
_UNSAFE = re.compile(r"[^a-z0-9-]+")
_MAX_SLUG = 120


def base_path(slug: str, published: datetime) -> str:
    """The address an article gets when no other article holds it yet."""
    if published.tzinfo is not None:
        published = published.astimezone(UTC)
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


def mint_page_paths(connection: Connection, wanted: Sequence[tuple[str, datetime]]) -> list[str]:
    """A new, unique page address for each (slug, published) of articles being inserted
    on `connection` (in its transaction). Two writers minting the same address at once
    collide on the unique index; the store's upsert then runs again and probes anew."""
    bases = [base_path(slug, published) for slug, published in wanted]
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
    for every article: its version, its address and where it sits (its category, else its
    source, in publication order)."""

    id: int
    page_path: str
    url: str | None
    published: datetime
    content_hash: str
    updated: datetime
    linked_sources: int
    category_id: int | None
    source_id: int


_STAMP_READ = select(
    ARTICLES.c.id,
    ARTICLES.c.page_path,
    ARTICLES.c.url,
    ARTICLES.c.published,
    ARTICLES.c.content_hash,
    ARTICLES.c.updated,
    ARTICLES.c.linked_sources,
    ARTICLES.c.category_id,
    ARTICLES.c.source_id,
).where(VISIBLE)  # a hidden article has no page until it is shown again (same address)
_STAMP_READ = _STAMP_READ.order_by(ARTICLES.c.published, ARTICLES.c.id)


def page_stamps(connection: Connection) -> list[PageStamp]:
    """Every article's `PageStamp`, oldest first (published, then id)."""
    return [
        PageStamp(
            id=row.id,
            page_path=row.page_path or "",
            url=row.url,
            published=row.published,
            content_hash=row.content_hash,
            updated=row.updated,
            linked_sources=row.linked_sources,
            category_id=row.category_id,
            source_id=row.source_id,
        )
        for row in connection.execute(_STAMP_READ)
    ]


@dataclass(frozen=True, slots=True)
class PageLabels:
    """The tag, author and topic slugs of every article, for the links of its page."""

    tags: dict[int, tuple[str, ...]]
    authors: dict[int, tuple[str, ...]]
    topics: dict[int, tuple[str, ...]]


def _grouped(connection: Connection, query: Any) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for article_id, slug in connection.execute(query):
        found.setdefault(article_id, []).append(slug)
    return {article_id: tuple(slugs) for article_id, slugs in found.items()}


def page_labels(connection: Connection) -> PageLabels:
    """Every article's tag, author and topic slugs (three index reads, no article row)."""
    at, aa, ta = ARTICLE_TAGS.c, ARTICLE_AUTHORS.c, TOPIC_ARTICLES.c
    return PageLabels(
        tags=_grouped(
            connection,
            select(at.article_id, TAGS.c.slug)
            .join(TAGS, TAGS.c.id == at.tag_id)
            .order_by(at.article_id, TAGS.c.slug),
        ),
        authors=_grouped(
            connection,
            select(aa.article_id, AUTHORS.c.slug)
            .join(AUTHORS, AUTHORS.c.id == aa.author_id)
            .order_by(aa.article_id, AUTHORS.c.slug),
        ),
        topics=_grouped(
            connection, select(ta.article_id, ta.topic_slug).order_by(ta.article_id, ta.topic_slug)
        ),
    )
