"""Full text for truncated feeds: the entries of a feed source whose text is a teaser get
the text of their article page (`full_text = true`, or `"auto"` for entries under
`min_words` words or whose text is only their summary).

Polite and bounded: pages go through the feed's own `Fetcher` (limits, address guard on
every hop, per-host spacing shared with feed polls); at most `per_poll` pages a poll,
newest entries first, the rest on later polls; a page is fetched once and remembered by
URL with its validators (`db.fetched_pages`), and fetched again only when its entry was edited or
its link changed. A page that fails, or yields less text than the feed, leaves the entry
with the feed's text, and is tried again on later polls (at most `MAX_TRIES` times in all,
spaced by `RETRY_AFTER`, within the same per-poll limit). The feed's own summary stays
the summary.

A site rule's `title:`, `author:` and `date:` fill what the entry lacks, as FiveFilters
does: the title when the feed gave none (the one derived from the text is replaced), the
authors when it named none, the date when it had none.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from db.fetched_pages import PageRecord
from db.store import Store
from ingest import DEFAULT_TIMEZONE, is_url, normalize
from ingest.article import plausible_date
from ingest.extract import Extraction, Selectors, extract_page, word_count
from ingest.fetch import Fetcher, FetchError, Response
from ingest.raw import RawArticle
from ingest.siterules import SiteRule, SiteRules
from ingest.untitled import title_from_html, title_from_link

log = logging.getLogger("rassegna.ingest.fulltext")

Mode = Literal["off", "on", "auto"]
MIN_WORDS = 120
PER_POLL = 10
MAX_TRIES = 3
"""Fetches of a page that keeps failing, for the same entry, the first one included."""
RETRY_AFTER = (timedelta(hours=1), timedelta(hours=6))
"""How long after its first failed try a page is tried again, and after its second."""


@dataclass(frozen=True, slots=True)
class FullTextOptions:
    """A feed source's full-text settings (config `full_text` and neighbours)."""

    mode: Mode = "off"
    min_words: int = MIN_WORDS
    per_poll: int = PER_POLL
    selectors: Selectors = field(default_factory=Selectors)
    rules: SiteRules = field(default_factory=SiteRules)
    timezone: str = DEFAULT_TIMEZONE  # of dates a site rule finds without one


@dataclass(slots=True)
class FullTextTally:
    """What the full-text step of one poll did."""

    ok: int = 0  # entries that got their page's text this poll (fetched or remembered)
    failed: int = 0  # pages fetched this poll that did not give it
    fetched: int = 0
    deferred: int = 0  # entries left for a later poll (per-poll limit)


@dataclass(frozen=True, slots=True)
class PagePreview:
    """What the full-text step would do with one entry (for `rassegna preview`)."""

    url: str
    wanted: bool
    text_source: str
    method: str
    words: int
    rule: str | None


def feed_words(raw: RawArticle) -> int:
    return word_count(raw.body_html or "") if raw.body_html else len((raw.body_text or "").split())


def wants_page(raw: RawArticle, options: FullTextOptions) -> bool:
    """Whether this entry's article page is worth fetching."""
    if options.mode == "off" or not raw.url or not is_url(raw.url):
        return False
    if options.mode == "on":
        return True
    text = " ".join(normalize.html_to_text(raw.body_html or "").split())
    summary = " ".join(raw.summary.split())
    return len(text.split()) < options.min_words or (bool(summary) and text == summary)


def entry_hash(raw: RawArticle) -> str:
    """The fingerprint of what the feed says of an entry: an edit fetches the page again."""
    payload = "\n".join([raw.url or "", raw.title, raw.summary, raw.body_html or ""])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _newest_first(raw: RawArticle) -> float:
    when = raw.published if isinstance(raw.published, datetime) else None
    if when is None:
        return float("-inf")
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True, slots=True)
class PageFetcher:
    """Article pages fetched at `now` through the shared fetcher (its limits, address
    guard and per-host spacing), as the source's `user_agent` (the fetcher's when None)."""

    fetcher: Fetcher
    now: datetime
    user_agent: str | None = None

    def fetch(self, url: str, previous: PageRecord | None = None) -> Response:
        """GET an article's page, with the validators of its `previous` successful fetch."""
        etag = last_modified = None
        if previous is not None and previous.ok:
            etag, last_modified = previous.etag, previous.last_modified
        return self.fetcher.fetch(
            url,
            etag=etag,
            last_modified=last_modified,
            now=self.now,
            user_agent=self.user_agent,
        )

    def more(self, url: str) -> tuple[bytes, str, str | None] | None:
        """An article's other page (`next_page_link`, `single_page_link`); None, logged,
        when it cannot be fetched. A `FetchPage` for the extractors."""
        try:
            response = self.fetch(url)
        except FetchError as exc:
            log.info("full text: %s", exc.message)
            return None
        return response.body, response.url, response.charset


def _derived_title(raw: RawArticle) -> bool:
    """Whether the entry's title is the one `ingest.feed` derives for an untitled entry."""
    derived = (
        title_from_html(raw.body_html or "")
        or title_from_html(raw.summary)
        or title_from_link(raw.url)
    )
    return not raw.title.strip() or raw.title == derived


def _apply(raw: RawArticle, record: PageRecord) -> None:
    """The page's text becomes the body; the feed's text stays as the summary; what the
    site rule found fills what the entry lacks."""
    if record.title and _derived_title(raw):
        raw.title = record.title
    if record.author and not raw.authors:
        raw.authors = [record.author]
    if record.published is not None and raw.published is None:
        raw.published = record.published
    html = record.content_html
    if not raw.summary.strip():
        raw.summary = " ".join(normalize.html_to_text(raw.body_html or "").split())
    raw.body_html = html
    raw.body_text = None
    raw.text_source = "page"


def fetch_and_extract(
    raw: RawArticle,
    options: FullTextOptions,
    pages: PageFetcher,
    previous: PageRecord | None = None,
) -> tuple[PageRecord, SiteRule | None]:
    """Fetch and extract one entry's page: the record to remember (ok or why not)."""
    url, now = raw.url or "", pages.now
    fingerprint = entry_hash(raw)
    try:
        response = pages.fetch(url, previous)
    except FetchError as exc:
        reason = exc.message.removeprefix(f"{url}: ")
        return PageRecord(url, fingerprint, False, "", reason, now), None
    if response.not_modified and previous is not None and previous.ok:
        return dataclasses.replace(previous, entry_hash=fingerprint, fetched_at=now, tries=1), None
    if response.content_type and "html" not in response.content_type:
        reason = f"not a web page ({response.content_type})"
        return PageRecord(url, fingerprint, False, "", reason, now), None
    host = urlsplit(response.url).hostname or ""
    found: Extraction | None
    found, rule = extract_page(
        response.body,
        url=response.url,
        charset=response.charset,
        rules=options.rules,
        selectors=options.selectors,
        fetch=pages.more,
        host=host,
    )
    if found is None or not found.words:
        return PageRecord(url, fingerprint, False, "", "no article text found", now), rule
    have = feed_words(raw)
    if found.words <= have:
        reason = f"less text than the feed ({found.words} words, the feed has {have})"
        return PageRecord(url, fingerprint, False, "", reason, now), rule
    record = PageRecord(
        url=url,
        entry_hash=fingerprint,
        ok=True,
        content_html=found.html,
        method=found.method,
        fetched_at=now,
        etag=response.etag,
        last_modified=response.last_modified,
        title=found.title,
        author=found.author,
        published=_page_date(found.date, now, options.timezone),
    )
    return record, rule


def _page_date(text: str | None, now: datetime, timezone: str) -> datetime | None:
    if not text:
        return None
    return plausible_date(normalize.parse_date(text, now=now, tz=timezone))


def _retry_due(record: PageRecord, now: datetime) -> bool:
    """Whether a page that failed for this same entry is tried again now."""
    if record.ok or record.tries >= MAX_TRIES:
        return False
    wait = RETRY_AFTER[min(record.tries, len(RETRY_AFTER)) - 1]
    return now - record.fetched_at >= wait


def _counted(record: PageRecord, previous: PageRecord | None) -> PageRecord:
    """`record` with its tries: one more than the previous failed try of the same entry."""
    if previous is None or previous.ok or previous.entry_hash != record.entry_hash:
        return record
    return dataclasses.replace(record, tries=previous.tries + 1)


def fill_full_text(
    store: Store,
    source_id: int,
    entries: Sequence[RawArticle],
    pages: PageFetcher,
    options: FullTextOptions,
    *,
    source_name: str,
) -> FullTextTally:
    """Give the entries that want it their article page's text, in place."""
    now = pages.now
    tally = FullTextTally()
    wanted = [raw for raw in entries if wants_page(raw, options)]
    if not wanted:
        return tally
    known = store.fetched_pages(source_id, [raw.url or "" for raw in wanted])
    to_fetch: list[RawArticle] = []
    for raw in wanted:
        record = known.get(raw.url or "")
        if record is not None and record.entry_hash == entry_hash(raw):
            if record.ok:
                _apply(raw, record)
                continue
            if not _retry_due(record, now):
                continue  # failed: tried again later, a bounded number of times
        to_fetch.append(raw)
    to_fetch.sort(key=_newest_first, reverse=True)
    tally.deferred = max(0, len(to_fetch) - options.per_poll)
    saved: list[PageRecord] = []
    for raw in to_fetch[: options.per_poll]:
        previous = known.get(raw.url or "")
        record, _rule = fetch_and_extract(raw, options, pages, previous)
        record = _counted(record, previous)
        tally.fetched += 1
        saved.append(record)
        if record.ok:
            tally.ok += 1
            log.info(
                'source "%s": full text of %s from the page (%s, %d words)',
                source_name,
                raw.url,
                record.method,
                word_count(record.content_html),
            )
            _apply(raw, record)
        else:
            tally.failed += 1
            log.warning(
                'source "%s": full text of %s: kept the feed text (try %d of %d): %s',
                source_name,
                raw.url,
                record.tries,
                MAX_TRIES,
                record.method,
            )
    store.save_fetched_pages(source_id, saved)
    if tally.deferred:
        log.info(
            'source "%s": %d article pages left for a later poll (at most %d a poll)',
            source_name,
            tally.deferred,
            options.per_poll,
        )
    return tally


def preview_entry(raw: RawArticle, options: FullTextOptions, pages: PageFetcher) -> PagePreview:
    """What the full-text step would store for one entry, without remembering anything."""
    url = raw.url or ""
    if not wants_page(raw, options):
        return PagePreview(url, False, "feed", "", feed_words(raw), None)
    record, rule = fetch_and_extract(raw, options, pages)
    if record.ok:
        _apply(raw, record)
        return PagePreview(
            url,
            True,
            "page",
            record.method,
            word_count(record.content_html),
            rule.path if rule else None,
        )
    return PagePreview(
        url, True, "feed", record.method, feed_words(raw), rule.path if rule else None
    )
