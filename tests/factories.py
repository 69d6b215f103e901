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

from hypothesis import strategies as st

from db.records import ArticleDraft, Label, SourceSpec, StoredArticle
from db.store import Store
from feeds.build import STATE_FILE, BuildReport, build_feeds
from feeds.pagemark import PAGES_MARK
from feeds.site import SiteInfo
from feeds.sitebuild import PAGES_STATE, build_pages
from feeds.sitemaps import MAX_URLS

WHEN = datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
BASE_URL = "http://127.0.0.1:8080/"
# The build's own bookkeeping beside the output: never published, rewritten at will.
STATE_FILES = frozenset({STATE_FILE, PAGES_STATE, PAGES_MARK})
# The page build's state files per month of article address (`feeds.pagestate`).
PAGES_SHARDS = PAGES_STATE.removesuffix(".json") + "-"


def site_info(title: str, **fields: Any) -> SiteInfo:
    """A site titled `title` at `BASE_URL`, its home page at https://rassegna.example.it/;
    `fields` set any other field of `SiteInfo`."""
    return SiteInfo(title=title, link="https://rassegna.example.it/", base_url=BASE_URL, **fields)


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


def numbered_draft(n: int, start: datetime, **fields: Any) -> ArticleDraft:
    """Article number `n` of a series from one source, published `n` hours after `start`,
    its guid, title, body, summary and URL numbered `n`; `fields` override any field."""
    values: dict[str, Any] = {
        "guid": f"articolo-{n:03}.txt",
        "title": f"Notizia numero {n}: perché è già così",
        "body": f"Testo {n} con accenti: è, à, ù.",
        "summary": f"Riassunto {n}, città e università.",
        "published": start + timedelta(hours=n),
        "url": f"https://lago.example.it/notizie/{n}",
    }
    values.update(fields)
    return draft(**values)


SEARCH_WHEN = datetime(2024, 6, 19, 9, 0, tzinfo=UTC)


def seed_draft(shared: Path, guid: str = "seed") -> ArticleDraft:
    """The shared sample article (title, standfirst, blank line, body), read at test time,
    in "Esteri" and published at `SEARCH_WHEN`."""
    lines = (shared / "samples" / "seed-article.txt").read_text(encoding="utf-8").splitlines()
    body = "\n".join(line for line in lines[3:] if line.strip())
    return ArticleDraft(
        guid=guid,
        title=lines[0],
        summary=lines[1],
        content_html="",
        content_text=body,
        published=SEARCH_WHEN,
        category="Esteri",
    )


def search_draft(guid: str, title: str, body: str = "", **fields: Any) -> ArticleDraft:
    """A draft beside `seed_draft`, published `len(guid)` hours before `SEARCH_WHEN`: drafts
    whose guids differ in length differ in date, so the newest-first order is fixed."""
    values: dict[str, Any] = {"published": SEARCH_WHEN - timedelta(hours=len(guid))}
    values.update(fields)
    return draft(guid, title, body, **values)


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


def build_with_pages(
    store: Store, out: Path, site: SiteInfo, now: datetime, sitemap_urls: int = MAX_URLS
) -> BuildReport:
    """The feeds, then the pages and sitemaps (dated `now`), of `store` built into `out`:
    one report for both."""
    report = build(store, out, site)
    pages = build_pages(
        store, site, out, specs=report.feeds, fsync=False, now=now, sitemap_urls=sitemap_urls
    )
    report.written += pages.written
    report.unchanged += pages.unchanged
    report.removed += pages.removed
    return report


def snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    """Each published file under `out` (relative path) with its bytes and mtime, so a
    comparison also sees a file rewritten with the same bytes."""
    return {
        p.relative_to(out).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in out.rglob("*")
        if p.is_file() and p.name not in STATE_FILES and not p.name.startswith(PAGES_SHARDS)
    }


def contents(out: Path) -> dict[str, bytes]:
    """Each published file under `out` (relative path) with its bytes."""
    return {name: data for name, (data, _) in snapshot(out).items()}


def paragraphs_markup(texts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """HTML of one to four `<p>` elements of `texts`, each followed by nothing, a line
    break, two, or a space: bodies around the bare-paragraphs shortcuts and off them."""
    return st.lists(
        st.tuples(texts, st.sampled_from(["", "\n", "\n\n", " "])).map(
            lambda pair: f"<p>{pair[0]}</p>{pair[1]}"
        ),
        min_size=1,
        max_size=4,
    ).map("".join)
