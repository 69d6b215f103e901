"""One feed entry read into a `RawArticle` awaiting its identity (`FeedEntry`): an item
as feedparser hands it over (RSS, Atom) or a JSON Feed item, with its links resolved and
cleaned, its dates, authors, tags and lead image.

An entry without a title gets one from its text (or, with no text, from its link); one
with neither text nor link is marked empty and skipped by `ingest.feed_identity`.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest import normalize
from ingest.article import plausible_date
from ingest.feed_identity import FeedEntry
from ingest.raw import RawArticle
from ingest.tracking import strip_tracking, strip_tracking_id
from ingest.untitled import title_from_html, title_from_link
from ingest.urls import canonical_url, clean_html, resolve

_IMAGE_SUFFIX_RE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:$|\?)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reading:
    """How the entries of one feed document are read: `url` is where it was fetched (the
    base of its relative links), `now` the clock of the ingest, `timezone` the zone of a
    date that names none, and `keep` leaves tracking parameters where they are."""

    url: str
    now: datetime
    timezone: str
    keep: bool = False


def _date(text: object, parsed: object, *, now: datetime, timezone: str) -> datetime | None:
    """An entry date: our Italian-aware parser first (a date without a zone is in the
    site's zone), then feedparser's (which assumes UTC).

    A date that is not plausible (`plausible_date`: before 1900, more than a day ahead)
    is no date at all: the entry is then undated and keeps the date it was first seen
    with, instead of getting a new fallback date, and so a change, on every poll.
    """
    if isinstance(text, str) and text.strip():
        found = plausible_date(normalize.parse_date(text, now=now, tz=timezone))
        if found is not None:
            return found
    if isinstance(parsed, time.struct_time):
        try:
            return plausible_date(datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC))
        except (ValueError, OverflowError, OSError):
            # feedparser hands on years like 0 or 10000, which datetime cannot hold.
            return None
    return None


def xml_entry(entry: dict[str, Any], reading: Reading) -> FeedEntry:
    """One entry of an RSS or Atom document, as feedparser hands it over."""
    url, now, timezone, keep = reading.url, reading.now, reading.timezone, reading.keep
    link = resolve(str(entry.get("link") or ""), url)
    base = url
    content_html = ""
    contents = entry.get("content") or []
    if contents:
        # content:encoded / atom:content; prefer HTML over plain text when both exist.
        html_first = sorted(contents, key=lambda c: "html" not in str(c.get("type", "")))
        content_html = str(html_first[0].get("value") or "")
    summary_html = str(entry.get("summary") or "")
    if content_html and len(content_html) < len(summary_html) and _only_plain(contents):
        # feedparser files an RSS item's media:description (an image caption, as Mastodon
        # writes them) under `content`: plain text shorter than the description is that
        # caption, not the entry's text.
        content_html = ""
    if not content_html:
        content_html, summary_html = summary_html, ""
    body, first_image = clean_html(content_html, base, tracking=keep)
    summary = " ".join(normalize.html_to_text(summary_html).split()) if summary_html else ""
    # dict.get: feedparser's own get() maps a missing `updated` to `published` (with a
    # deprecation warning), which would make every entry look edited at publication.
    published = _date(
        dict.get(entry, "published"),
        dict.get(entry, "published_parsed"),
        now=now,
        timezone=timezone,
    )
    updated = _date(
        dict.get(entry, "updated"), dict.get(entry, "updated_parsed"), now=now, timezone=timezone
    )
    authors = [str(a.get("name")) for a in entry.get("authors") or [] if a.get("name")]
    if not authors and entry.get("author"):
        authors = [str(entry.get("author"))]
    tags = [str(t.get("term") or t.get("label") or "") for t in entry.get("tags") or []]
    image = _entry_image(entry, base) or first_image
    raw = RawArticle(
        guid="",
        title=normalize.html_to_text(str(entry.get("title") or "")).replace("\n", " "),
        origin=link or url,
        summary=summary,
        body_html=body,
        published=published or updated,
        updated=updated,
        authors=authors,
        tags=[t for t in tags if t.strip()],
        language=str(entry.get("language") or "") or None,
        image_url=image,
    )
    return _identified(raw, link, str(entry.get("id") or ""), keep)


def _only_plain(contents: Sequence[Mapping[str, Any]]) -> bool:
    return all("html" not in str(c.get("type", "")) for c in contents)


def _entry_image(entry: Mapping[str, Any], base: str) -> str | None:
    """The lead image: media:content, then an image enclosure, then media:thumbnail."""
    for media in entry.get("media_content") or []:
        kind = str(media.get("medium") or media.get("type") or "")
        candidate = str(media.get("url") or "")
        is_image = kind.startswith("image") or _IMAGE_SUFFIX_RE.search(candidate)
        if candidate and is_image and not _tiny(media):
            return resolve(candidate, base)
    for enclosure in entry.get("enclosures") or []:
        candidate = str(enclosure.get("href") or enclosure.get("url") or "")
        kind = str(enclosure.get("type") or "")
        if candidate and (kind.startswith("image/") or _IMAGE_SUFFIX_RE.search(candidate)):
            return resolve(candidate, base)
    for thumbnail in entry.get("media_thumbnail") or []:
        candidate = str(thumbnail.get("url") or "")
        if candidate and not _tiny(thumbnail):
            return resolve(candidate, base)
    return None


def _tiny(media: Mapping[str, Any]) -> bool:
    sizes = [str(media.get(k) or "") for k in ("width", "height")]
    return all(s.isdigit() for s in sizes) and all(int(s) <= 1 for s in sizes)


def json_authors(holder: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    authors = holder.get("authors")
    if isinstance(authors, list):
        found = [str(a["name"]) for a in authors if isinstance(a, dict) and a.get("name")]
    author = holder.get("author")  # JSON Feed 1.0
    if not found and isinstance(author, dict) and author.get("name"):
        found = [str(author["name"])]
    return found


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    return str(value) if isinstance(value, str | int | float) else ""


def json_entry(item: Mapping[str, Any], reading: Reading, *, authors: list[str]) -> FeedEntry:
    """One item of a JSON Feed; `authors` are the feed's, for an item that names none."""
    url, now, timezone, keep = reading.url, reading.now, reading.timezone, reading.keep
    link = resolve(_text(item, "url") or _text(item, "external_url"), url)
    base = url
    content_html = _text(item, "content_html")
    if not content_html and _text(item, "content_text"):
        paragraphs = _text(item, "content_text").split("\n")
        content_html = "".join(f"<p>{_escape(p)}</p>" for p in paragraphs if p.strip())
    summary = _text(item, "summary")
    if not content_html and summary:
        content_html, summary = f"<p>{_escape(summary)}</p>", ""
    body, first_image = clean_html(content_html, base, tracking=keep)
    published = _date(_text(item, "date_published"), None, now=now, timezone=timezone)
    updated = _date(_text(item, "date_modified"), None, now=now, timezone=timezone)
    tags = item.get("tags")
    image = resolve(_text(item, "image") or _text(item, "banner_image"), base) or first_image
    raw = RawArticle(
        guid="",
        title=_text(item, "title"),
        origin=link or url,
        summary=summary,
        body_html=body,
        published=published or updated,
        updated=updated,
        authors=json_authors(item) or authors,
        tags=[str(t) for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        language=_text(item, "language") or None,
        image_url=image,
    )
    return _identified(raw, link, _text(item, "id"), keep)


def _identified(raw: RawArticle, link: str | None, guid: str, keep: bool) -> FeedEntry:
    """The entry of `raw` with its link (canonical when http(s), else as it came) and its
    guid; `keep`: leave tracking parameters where they are."""
    canonical = canonical_url(link, tracking=keep)
    raw.url = canonical or _plain_link(link, keep)
    return _titled(FeedEntry(guid=_entry_id(guid.strip() or None, keep), link=canonical, raw=raw))


def _entry_id(guid: str | None, keep: bool) -> str | None:
    return guid if guid is None or keep else strip_tracking_id(guid)


def _plain_link(link: str | None, keep: bool) -> str | None:
    """A link that is not http(s) (so has no canonical form), as stored."""
    if not link:
        return None
    return link if keep else strip_tracking(link)


def _titled(entry: FeedEntry) -> FeedEntry:
    """An entry without a title gets one from its text (or, with no text, its link); one
    with neither text nor link is marked empty."""
    raw = entry.raw
    if raw.title.strip():
        return entry
    title = title_from_html(raw.body_html or "") or title_from_html(raw.summary)
    has_text = bool(title)
    title = title or title_from_link(raw.url)
    entry.untitled = True
    entry.empty = not title and not has_text
    raw.title = title
    return entry


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
