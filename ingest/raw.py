"""`RawArticle`: one article as an adapter read it, before normalization."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class RawArticle:
    """Fields as found in the source; strings are not yet normalized.

    Exactly one of `body_text` (one paragraph per line) or `body_html` carries the body.
    `published` may be a datetime (aware or naive) or text to parse; naive times are
    read in the site's time zone.
    """

    guid: str
    title: str
    origin: str  # the file path or URL, for messages
    summary: str = ""
    body_text: str | None = None
    body_html: str | None = None
    url: str | None = None
    published: datetime | str | None = None
    updated: datetime | None = None
    fallback_date: datetime | None = None  # used when `published` is missing (file mtime)
    authors: list[str] | str = field(default_factory=list)
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    image_url: str | None = None
    text_source: str = "feed"  # "page" once the article page's text replaced the feed's
