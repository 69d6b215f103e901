"""The article pages fetched for the full text of feed entries (not the site's own article
pages, `db.pages`): one row per source and URL, read before a poll (what is already known)
and written after it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Engine, and_, delete, func, insert, select

from db.records import picked
from db.tables import FETCHED_PAGES as _PAGES
from db.tables import SOURCES, chunks


@dataclass(frozen=True, slots=True)
class PageRecord:
    """What one article page yielded (`ok`), or why it did not (`method`)."""

    url: str
    entry_hash: str
    ok: bool
    content_html: str
    method: str
    fetched_at: datetime
    tries: int = 1  # fetches of this page for the same entry, failed ones included
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None  # found by a site rule's `title:` (`author:`, `date:`)
    author: str | None = None
    published: datetime | None = None


_FIELDS = tuple(f.name for f in fields(PageRecord))
"""A page's record and its row hold the same values under the same names."""


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def known_pages(engine: Engine, source_id: int, urls: Sequence[str]) -> dict[str, PageRecord]:
    """The stored pages of these URLs, by URL."""
    keys = list(dict.fromkeys(url_key(u) for u in urls))
    found: dict[str, PageRecord] = {}
    with engine.connect() as connection:
        for chunk in chunks(keys):
            rows = connection.execute(
                select(_PAGES).where(
                    and_(_PAGES.c.source_id == source_id, _PAGES.c.url_key.in_(chunk))
                )
            )
            for row in rows:
                found[row.url] = PageRecord(**picked(row, _FIELDS))
    return found


def save_pages(engine: Engine, source_id: int, pages: Iterable[PageRecord]) -> None:
    """Insert or replace the rows of these pages."""
    rows = [
        {"source_id": source_id, "url_key": url_key(p.url), **picked(p, _FIELDS)} for p in pages
    ]
    if not rows:
        return
    with engine.begin() as connection:
        connection.execute(
            delete(_PAGES).where(
                and_(
                    _PAGES.c.source_id == source_id,
                    _PAGES.c.url_key.in_([r["url_key"] for r in rows]),
                )
            )
        )
        connection.execute(insert(_PAGES), rows)


def page_counts(engine: Engine) -> dict[str, tuple[int, int]]:
    """(pages that gave the full text, pages that did not) per source name."""
    sources = SOURCES
    counts: dict[str, tuple[int, int]] = {}
    with engine.connect() as connection:
        rows = connection.execute(
            select(sources.c.name, _PAGES.c.ok, func.count())
            .join(sources, sources.c.id == _PAGES.c.source_id)
            .group_by(sources.c.name, _PAGES.c.ok)
        )
        for name, ok, count in rows:
            good, bad = counts.get(name, (0, 0))
            counts[name] = (good + count, bad) if ok else (good, bad + count)
    return counts
