"""Helpers shared by every output format: text cleaning, dates, entry fallbacks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from db.records import StoredArticle

# XML 1.0 forbids these code points (lxml refuses them outright) and lone surrogates
# cannot even be encoded as UTF-8, so they are dropped from everything we publish.
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"\s+")

# An empty feed still needs a date (Atom `updated` is required); a fixed one keeps its
# bytes stable from build to build, unlike the clock.
EMPTY_FEED_DATE = datetime(2000, 1, 1, tzinfo=UTC)

UNTITLED = "(senza titolo)"
SUMMARY_CHARS = 280


def clean_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry."""
    return _NOT_XML_CHARS.sub("", text)


def one_line(text: str) -> str:
    """Cleaned text with its whitespace collapsed, for titles and names."""
    return _SPACES.sub(" ", clean_text(text)).strip()


def title_of(article: StoredArticle) -> str:
    return one_line(article.title) or UNTITLED


def summary_of(article: StoredArticle) -> str:
    """The plain-text summary, else the start of the text, else the title."""
    summary = one_line(article.summary)
    if summary:
        return summary
    text = one_line(article.content_text)
    if len(text) > SUMMARY_CHARS:
        text = text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
    return text or title_of(article)


def authors_of(article: StoredArticle) -> list[str]:
    return [name for name in (one_line(a) for a in article.authors) if name]


def local(moment: datetime, tz: ZoneInfo) -> datetime:
    """An aware datetime shown in the site's time zone, to the second."""
    if moment.tzinfo is None:
        # The store hands out aware UTC datetimes; a naive one is read as UTC too.
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).replace(microsecond=0)


def rfc822(moment: datetime, tz: ZoneInfo) -> str:
    """RFC 822 date with English day and month names whatever the locale.

    `email.utils.format_datetime` uses fixed English names; `strftime("%a")` (and feedgen,
    which calls `locale.setlocale` around it, process-wide) is avoided on purpose.
    """
    return format_datetime(local(moment, tz))


def rfc3339(moment: datetime, tz: ZoneInfo) -> str:
    return local(moment, tz).isoformat()


def updated_of(article: StoredArticle) -> datetime:
    """The entry's `updated`, never earlier than its `published` (some sources disagree)."""
    return max(article.updated, article.published)


def newest_update(articles: Sequence[StoredArticle]) -> datetime:
    """The feed-level date: the newest `updated` among its items, never the clock."""
    if not articles:
        return EMPTY_FEED_DATE
    return max(updated_of(a) for a in articles)
