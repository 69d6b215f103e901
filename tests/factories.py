"""Plain helpers the tests share to make what they store and publish: article drafts,
stored articles, sources, builds of a store into a folder and snapshots of that folder.

Fixtures live in tests/conftest.py; these are ordinary functions, so a test file calls
them with the values its own story needs and keeps its texts and dates where it asserts
on them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from db.records import ArticleDraft, Label, SourceSpec, StoredArticle
from db.store import Store
from feeds.build import STATE_FILE, BuildReport, build_feeds
from feeds.site import SiteInfo
from feeds.sitebuild import PAGES_STATE

WHEN = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
# The build's own bookkeeping beside the output: never published, rewritten at will.
STATE_FILES = frozenset({STATE_FILE, PAGES_STATE})


def draft(guid: str, title: str, body: str = "", **fields: Any) -> ArticleDraft:
    """A draft with every field the store needs: `body` becomes the plain text and one
    HTML paragraph (none when empty); `fields` set any other field of `ArticleDraft` or
    override these."""
    values: dict[str, Any] = {
        "summary": "",
        "content_html": f"<p>{body}</p>" if body else "",
        "content_text": body,
        "published": WHEN,
    }
    values.update(fields)
    return ArticleDraft(guid=guid, title=title, **values)


def stored_article(n: int = 1, **fields: Any) -> StoredArticle:
    """Article number `n` as the store hands it to the renderers, without a store: a
    category, a tag and an author, published `n` hours after 1 June 2025 08:00 UTC."""
    published = datetime(2025, 6, 1, 8, 0, tzinfo=UTC) + timedelta(hours=n)
    values: dict[str, Any] = {
        "id": n,
        "uid": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "source_name": "Gazzetta di Prova",
        "source_slug": "gazzetta-di-prova",
        "guid": f"articolo-{n}.txt",
        "title": f"Articolo numero {n}: perché è così",
        "summary": "Un riassunto breve, con ciò che conta.",
        "content_html": "<p>Il testo <em>completo</em> dell'articolo.</p>",
        "content_text": "Il testo completo dell'articolo.",
        "published": published,
        "updated": published + timedelta(minutes=5),
        "ingested": published,
        "url": f"https://gazzetta.example.it/{n}",
        "authors": ("Giulia Bianchi",),
        "category": Label("Cronaca", "cronaca"),
        "tags": (Label("Università", "universita"),),
    }
    values.update(fields)
    return StoredArticle(**values)


def add_source(
    store: Store, name: str, kind: str = "files", location: str = "/tmp/rassegna-prova"
) -> int:
    """The id of a source named `name` in `store`, added if new."""
    return store.ensure_source(SourceSpec(name=name, kind=kind, location=location))


def stored(store: Store, limit: int = 100) -> list[StoredArticle]:
    """The newest `limit` articles of `store`, newest first."""
    return store.latest_articles(limit)


def build(store: Store, out: Path, site: SiteInfo) -> BuildReport:
    """Every feed of `store` built into `out`, without fsync (tests need no durability)."""
    return build_feeds(store, site, out, fsync=False)


def snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    """Each published file under `out` (relative path) with its bytes and mtime, so a
    comparison also sees a file rewritten with the same bytes."""
    return {
        p.relative_to(out).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in out.rglob("*")
        if p.is_file() and p.name not in STATE_FILES
    }


def contents(out: Path) -> dict[str, bytes]:
    """Each published file under `out` (relative path) with its bytes."""
    return {name: data for name, (data, _) in snapshot(out).items()}
