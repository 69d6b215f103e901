"""`rassegna preview`: what an article (a file, or what a URL holds) will look like once
normalized, without storing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from db.records import ArticleDraft
from ingest import normalize
from ingest.article import to_draft
from ingest.errors import BadArticle
from ingest.files import FoundFile, read_article
from rassegna.config import Settings
from rassegna.errors import RassegnaError
from rassegna.operations import draft_rules, ingest_url


def preview_file(settings: Settings, path: Path) -> dict[str, Any]:
    """Every field of the normalized article in `path`, as JSON-ready values."""
    if not path.is_file():
        raise RassegnaError(f"{path}: no such file")
    if path.suffix not in (".txt", ".md"):
        raise RassegnaError(f"{path}: not an article file (expected .txt or .md)")
    category = None
    for source in settings.sources:
        if source.path is not None and source.path.resolve() in path.resolve().parents:
            category = source.category
    st = path.stat()
    found = FoundFile(path, path.name, st.st_mtime_ns, st.st_size)
    try:
        draft = to_draft(
            read_article(found, path.read_bytes()),
            timezone=settings.site.timezone,
            rules=draft_rules(settings),
            default_category=category,
        )
    except BadArticle as exc:
        raise RassegnaError(f"{path}: {exc.reason}") from exc
    return draft_fields(settings, draft)


def preview_url(settings: Settings, url: str) -> list[dict[str, Any]]:
    """Every article a URL would give (a feed's entries, or one page), normalized."""
    drafts: list[ArticleDraft] = []
    report = ingest_url(settings, None, url, dry_run=True, on_draft=drafts.append)
    if not drafts and report.problems:
        raise RassegnaError(f"{url}: {report.problems[0].reason}")
    return [draft_fields(settings, draft) for draft in drafts]


def draft_fields(settings: Settings, draft: ArticleDraft) -> dict[str, Any]:
    """The fields of a draft as JSON-ready values, dates in the site's zone."""
    zone = ZoneInfo(settings.site.timezone)
    return {
        "title": draft.title,
        "summary": draft.summary,
        "language": draft.language,
        "published": draft.published.astimezone(zone).isoformat(),
        "updated": draft.updated.astimezone(zone).isoformat() if draft.updated else None,
        "authors": list(draft.authors),
        "category": draft.category,
        "tags": list(draft.tags),
        "auto_tags": normalize.auto_tags(draft.content_text),
        "slug": draft.slug,
        "reading_time_minutes": normalize.reading_time(draft.content_text),
        "url": draft.url,
        "image_url": draft.image_url,
        "content_text": draft.content_text,
        "content_html": draft.content_html,
    }
