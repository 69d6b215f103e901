"""Drafts from a feed document or an article page, before anything is stored: parse,
normalize, screen by the keep/block rules. (A big feed's batches are normalized on the
workers of a `DraftPool` by `ingest.remote_store`, which files them with `sort_outcomes`.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from db.blocked import BlockedEntry
from db.records import ArticleDraft
from ingest import DEFAULT_TIMEZONE
from ingest.article import DraftRules
from ingest.errors import BadArticle
from ingest.extract import PageFinder
from ingest.feed import DEFAULT_LIMITS, FeedLimits, parse_feed
from ingest.feed_identity import ParsedFeed
from ingest.fetch import Response
from ingest.page import extract_article
from ingest.pipeline import Problem
from ingest.pool import DraftPool, Normalized, normalize_batch
from ingest.raw import RawArticle

log = logging.getLogger("rassegna.ingest")


@dataclass(frozen=True, slots=True)
class Drafting:
    """How the entries of one fetch become drafts: the time they are seen, the site's
    time zone, the source's category, the normalization and keep/block rules, whether
    tracking parameters leave their links (`[ingest] strip_tracking`), and how much of a
    feed document is read."""

    now: datetime
    timezone: str = DEFAULT_TIMEZONE
    category: str | None = None
    rules: DraftRules | None = None
    strip_tracking: bool = True
    limits: FeedLimits = DEFAULT_LIMITS


@dataclass(slots=True)
class Collected:
    """Drafts read from one fetch, before storing."""

    drafts: list[ArticleDraft] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    undated: set[str] = field(default_factory=set)
    bozo: str | None = None
    min_interval: int | None = None
    title: str | None = None
    blocked: list[BlockedEntry] = field(default_factory=list)  # kept out by [[rules]]


def prepare(raws: Sequence[RawArticle], now: datetime) -> None:
    """Give entries without a date the time they were first seen as their fallback."""
    for raw in raws:
        if raw.fallback_date is None:
            raw.fallback_date = now


def sort_outcomes(
    raws: Sequence[RawArticle],
    outcomes: Sequence[Normalized],
    collected: Collected,
) -> None:
    """File each normalized entry as a draft, a skipped article or a blocked entry (the
    rules' verdict comes with the outcome: `normalize_batch` with the ingest's clock)."""
    for raw, outcome in zip(raws, outcomes, strict=True):
        draft = outcome.draft
        if draft is None:
            collected.problems.append(Problem(raw.origin, outcome.problem or "unreadable"))
        elif outcome.kept_out is None:
            collected.drafts.append(draft)
        else:
            collected.blocked.append(BlockedEntry(draft.guid, draft.title, outcome.kept_out))


def add_drafts(raws: Sequence[RawArticle], collected: Collected, drafting: Drafting) -> None:
    """Normalize `raws` in this process and file the outcomes in `collected` (big feeds
    go through the pool in `ingest.remote_store`)."""
    prepare(raws, drafting.now)
    timezone, category, rules = drafting.timezone, drafting.category, drafting.rules
    outcomes = normalize_batch(raws, timezone, category, rules, drafting.now)
    sort_outcomes(raws, outcomes, collected)


def parse_response(
    response: Response, drafting: Drafting, *, source: str, pool: DraftPool | None = None
) -> ParsedFeed:
    """The entries of a fetched feed document, decoded as its headers say; a line in the
    log, under the name `source`, when it held more entries than are read."""
    parsed = parse_feed(
        response.body,
        url=response.url,
        http_charset=response.charset,
        content_type=response.content_type,
        now=drafting.now,
        timezone=drafting.timezone,
        strip_tracking=drafting.strip_tracking,
        pool=pool,
        limits=drafting.limits,
    )
    log_dropped(source, response.url, parsed, drafting.limits)
    return parsed


def collect_feed(response: Response, drafting: Drafting) -> Collected:
    """Drafts of every usable entry of a feed document."""
    parsed = parse_response(response, drafting, source=response.url)
    collected = Collected(
        undated=parsed.undated,
        bozo=parsed.bozo,
        min_interval=parsed.min_interval,
        title=parsed.title,
    )
    collected.problems.extend(empty_entries(response.url, parsed))
    add_drafts(parsed.entries, collected, drafting)
    return collected


def empty_entries(where: str, parsed: ParsedFeed) -> list[Problem]:
    """One skipped article per entry with no title, no text and no link."""
    return [Problem(where, "an entry has no title, no text and no link")] * parsed.empty


def log_dropped(source_name: str, url: str, parsed: ParsedFeed, limits: FeedLimits) -> None:
    """One line per fetch when the feed held more entries than are read from it."""
    if parsed.dropped:
        log.warning(
            'source "%s": %s: %d entries beyond the first %d of the feed were dropped'
            " (cap per fetch)",
            source_name,
            url,
            parsed.dropped,
            limits.max_entries,
        )


def collect_page(
    response: Response, drafting: Drafting, finder: PageFinder | None = None
) -> Collected:
    """The draft of one article page (its body found by `finder`, if given)."""
    collected = Collected()
    try:
        raw = extract_article(
            response.body,
            url=response.url,
            http_charset=response.charset,
            now=drafting.now,
            timezone=drafting.timezone,
            strip_tracking=drafting.strip_tracking,
            finder=finder,
        )
    except BadArticle as exc:
        collected.problems.append(Problem(response.url, exc.reason))
        return collected
    if raw.published is None:
        collected.undated.add(raw.guid)
    add_drafts([raw], collected, drafting)
    return collected
