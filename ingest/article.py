"""Turning a `RawArticle` into a normalized `ArticleDraft`: every field passes through
`ingest.normalize`, HTML is sanitized, dates become aware."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

import nh3

from db.records import ArticleDraft
from ingest import normalize
from ingest.errors import BadArticle
from ingest.raw import RawArticle

MAX_TITLE_CHARS = 1000


def to_draft(
    raw: RawArticle, *, timezone: str = "Europe/Rome", default_category: str | None = None
) -> ArticleDraft:
    """Normalize every field of `raw`; raises BadArticle when nothing usable is left.

    `default_category` (the source's) applies when the article names none.
    """
    zone = ZoneInfo(timezone)
    title = normalize.normalize_title(raw.title)[:MAX_TITLE_CHARS]
    if not title:
        raise BadArticle("its title is empty once cleaned")
    if raw.body_html is not None:
        content_html = sanitize_html(raw.body_html)
        content_text = normalize.normalize_text(normalize.html_to_text(content_html))
    else:
        content_text = normalize.normalize_text(raw.body_text or "")
        content_html = paragraphs_to_html(content_text)
    summary = normalize.normalize_summary(raw.summary) if raw.summary else ""
    language = (raw.language or "").strip().lower()[:16] or normalize.detect_language(
        content_text or title
    )
    published = _aware(raw.published, zone) or _aware(raw.fallback_date, zone)
    if published is None:
        raise BadArticle("it has no date and none could be derived")
    updated = _aware(raw.updated, zone)
    if updated is not None and updated < published:
        updated = published
    authors = raw.authors if isinstance(raw.authors, str) else ", ".join(raw.authors)
    category_name = raw.category or default_category
    category = normalize.normalize_title(category_name) if category_name else None
    return ArticleDraft(
        guid=raw.guid,
        title=title,
        summary=summary,
        content_html=content_html,
        content_text=content_text,
        published=published,
        url=raw.url.strip() if raw.url else None,
        updated=updated,
        authors=tuple(normalize.normalize_authors(authors)) if authors else (),
        category=category or None,
        tags=tuple(normalize.normalize_tags(raw.tags)),
        language=language,
        slug=normalize.make_slug(title),
        image_url=raw.image_url.strip() if raw.image_url else None,
    )


def _aware(value: datetime | str | None, zone: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return normalize.parse_date(value, tz=str(zone.key))
    if value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value


def paragraphs_to_html(text: str) -> str:
    """One `<p>` per line of a normalized body."""
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in text.split("\n") if line)


def sanitize_html(fragment: str) -> str:
    """Only harmless markup survives: no scripts, styles, event handlers or javascript: URLs."""
    return nh3.clean(fragment, link_rel="noopener noreferrer").strip()
