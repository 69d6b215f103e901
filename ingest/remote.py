"""The ingest pipeline for remote sources (`kind = "feed"` and `kind = "page"`):
fetch → parse → `to_draft` → `store.upsert_articles` → record the outcome.

It returns the same `IngestReport` as the files pipeline. One bad entry never stops the
others; a failed fetch leaves every stored article as it was and only reschedules the
source (backoff, Retry-After, gone) through `Store.record_fetch_outcome`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from db.blocked import BlockedEntry
from db.dedup import lead_of
from db.records import (
    ArticleDraft,
    FetchKind,
    FetchOutcome,
    FetchState,
    FileFingerprint,
    SourceSpec,
)
from db.store import Store
from db.upsert_plan import EditCap
from ingest import DEFAULT_TIMEZONE, is_url
from ingest.article import DraftRules
from ingest.errors import BadArticle, IngestError
from ingest.extract import PageFinder
from ingest.feed import MAX_ENTRIES_PER_FETCH, ParsedFeed, parse_feed
from ingest.fetch import Fetcher, FetchError, Response
from ingest.files import content_digest
from ingest.fulltext import FullTextOptions, fill_full_text, page_fetch
from ingest.page import extract_article, find_article_links
from ingest.pipeline import IngestReport, Problem
from ingest.pool import DraftPool, normalize_batch
from ingest.raw import RawArticle
from ingest.screening import record_blocked, screen
from ingest.urls import canonical_url

log = logging.getLogger("rassegna.ingest")

BATCH_SIZE = 500
DUPLICATE_WINDOW = timedelta(hours=36)
EDIT_CAP = EditCap()
"""Edits stored per remote article: at most 12 a day; markup-only churn is none."""
LOCAL_FEED_KEY = "<feed>"


@dataclass(frozen=True, slots=True)
class RemoteOptions:
    """Per-source settings of a remote source beyond its `SourceSpec`."""

    timezone: str = DEFAULT_TIMEZONE
    rules: DraftRules | None = None  # site-wide normalization choices (config [normalize])
    user_agent: str | None = None
    urls: tuple[str, ...] = ()  # more article URLs of a page source
    link_pattern: str | None = None  # the location is an index page; follow these links
    max_articles: int = 30  # new article pages fetched per run from an index
    duplicate_window: timedelta = DUPLICATE_WINDOW
    strip_tracking: bool = True  # config [ingest] strip_tracking
    full_text: FullTextOptions = field(default_factory=FullTextOptions)  # truncated feeds
    pool: DraftPool | None = None  # workers for big batches of entries (ingest.pool)


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


DraftHook = Callable[[ArticleDraft], None]


# -- parsing (no store) --------------------------------------------------------------------


def _drafts(
    raws: Sequence[RawArticle],
    collected: Collected,
    *,
    now: datetime,
    timezone: str,
    category: str | None,
    rules: DraftRules | None = None,
    pool: DraftPool | None = None,
) -> None:
    for raw in raws:
        if raw.fallback_date is None:
            raw.fallback_date = now
    if pool is None:
        outcomes = normalize_batch(raws, timezone, category, rules)
    else:
        outcomes = pool.normalize(raws, timezone=timezone, category=category, rules=rules)
    for raw, outcome in zip(raws, outcomes, strict=True):
        draft = outcome.draft
        if draft is None:
            collected.problems.append(Problem(raw.origin, outcome.problem or "unreadable"))
            continue
        blocked = screen(draft, rules, now)
        if blocked is None:
            collected.drafts.append(draft)
        else:
            collected.blocked.append(blocked)


def collect_feed(
    data: bytes,
    *,
    url: str,
    charset: str | None = None,
    content_type: str | None = None,
    now: datetime,
    timezone: str,
    category: str | None = None,
    rules: DraftRules | None = None,
    strip_tracking: bool = True,
) -> Collected:
    """Drafts of every usable entry of a feed document."""
    parsed = parse_feed(
        data,
        url=url,
        http_charset=charset,
        content_type=content_type,
        now=now,
        timezone=timezone,
        strip_tracking=strip_tracking,
    )
    _log_dropped(url, url, parsed)
    collected = Collected(
        undated=parsed.undated,
        bozo=parsed.bozo,
        min_interval=parsed.min_interval,
        title=parsed.title,
    )
    collected.problems.extend(_empty_entries(url, parsed))
    _drafts(parsed.entries, collected, now=now, timezone=timezone, category=category, rules=rules)
    return collected


def _empty_entries(where: str, parsed: ParsedFeed) -> list[Problem]:
    """One skipped article per entry with no title, no text and no link."""
    return [Problem(where, "an entry has no title, no text and no link")] * parsed.empty


def _log_dropped(source_name: str, url: str, parsed: ParsedFeed) -> None:
    """One line per fetch when the feed held more entries than are read from it."""
    if parsed.dropped:
        log.warning(
            'source "%s": %s: %d entries beyond the first %d of the feed were dropped'
            " (cap per fetch)",
            source_name,
            url,
            parsed.dropped,
            MAX_ENTRIES_PER_FETCH,
        )


def collect_page(
    response: Response,
    *,
    now: datetime,
    timezone: str,
    category: str | None = None,
    rules: DraftRules | None = None,
    strip_tracking: bool = True,
    finder: PageFinder | None = None,
) -> Collected:
    """The draft of one article page."""
    collected = Collected()
    try:
        raw = extract_article(
            response.body,
            url=response.url,
            http_charset=response.charset,
            now=now,
            timezone=timezone,
            strip_tracking=strip_tracking,
            finder=finder,
        )
    except BadArticle as exc:
        collected.problems.append(Problem(response.url, exc.reason))
        return collected
    if raw.published is None:
        collected.undated.add(raw.guid)
    _drafts([raw], collected, now=now, timezone=timezone, category=category, rules=rules)
    return collected


# -- storing -------------------------------------------------------------------------------


def store_drafts(
    store: Store,
    source_id: int,
    collected: Collected,
    report: IngestReport,
    *,
    now: datetime,
    source_name: str,
    duplicate_window: timedelta = DUPLICATE_WINDOW,
    document_guids: set[str] | None = None,
) -> None:
    """Upsert the drafts, keeping identities and first-seen dates stable.

    `document_guids`, when the drafts are one part of a bigger document stored part by
    part, is the guids of the whole document (and is updated in place): a guid another
    part holds is never taken over by a moved entry.

    - an entry whose guid is new but whose link is an article the source already has
      (the publisher changed its guid scheme) updates that article;
    - an entry without any date keeps the date it got when first seen;
    - a new entry telling a story another source already brought (same URL, or a nearly
      equal title and a similar lead within `duplicate_window`, see `db.dedup`) is linked
      to that article instead of stored twice;
    - an edit that changes nothing a reader sees is not stored, and an article takes at
      most `EDIT_CAP` edits a day (the rest wait for a later fetch).
    """
    if collected.blocked:
        report.blocked += record_blocked(store, source_id, source_name, collected.blocked, now)
    drafts = collected.drafts
    if not drafts:
        return
    guids = [d.guid for d in drafts]
    linked = store.linked_guids(source_id, guids)
    known = store.known_articles(source_id, guids, [d.url for d in drafts if d.url])
    by_guid = {k.guid: k for k in known}
    by_url = {k.url: k for k in known if k.url}
    batch_guids = document_guids if document_guids is not None else set()
    batch_guids.update(guids)
    # First the identity of each draft; then, for the drafts new to this source, one
    # batched duplicate look-up (the store does not change in between, so asking for all
    # at once answers exactly what asking one by one would).
    matched: list[tuple[ArticleDraft, bool]] = []
    for draft in drafts:
        if draft.guid in linked:
            report.same += 1
            continue
        match = by_guid.get(draft.guid)
        moved = by_url.get(draft.url) if match is None and draft.url else None
        if moved is not None and moved.guid not in batch_guids:
            log.info(
                'source "%s": %s changed its guid from %s to %s; kept as the same article',
                source_name,
                draft.url,
                moved.guid,
                draft.guid,
            )
            draft = dataclasses.replace(draft, guid=moved.guid)
            batch_guids.add(moved.guid)
            match = moved
        if draft.guid in collected.undated and match is not None:
            draft = dataclasses.replace(draft, published=match.published)
        matched.append((draft, match is None))
    fresh = [draft for draft, is_new in matched if is_new]
    duplicates = iter(
        store.find_duplicates(
            source_id,
            [(d.url, d.title, d.published) for d in fresh],
            window=duplicate_window,
            leads=[lead_of(d.summary, d.content_text) for d in fresh],
        )
    )
    ready: list[ArticleDraft] = []
    for draft, is_new in matched:
        duplicate = next(duplicates) if is_new else None
        if duplicate is not None:
            store.link_article(source_id, draft.guid, duplicate, now, url=draft.url)
            log.info(
                'source "%s": "%s" is already stored from another source; linked',
                source_name,
                draft.title,
            )
            report.same += 1
            continue
        ready.append(draft)
    for start in range(0, len(ready), BATCH_SIZE):
        summary = store.upsert_articles(
            source_id, ready[start : start + BATCH_SIZE], cap=EDIT_CAP, now=now
        )
        report.merge(summary)
        if summary.deferred:
            log.info(
                'source "%s": %d edits held back (at most %d per article per %s)',
                source_name,
                summary.deferred,
                EDIT_CAP.edits,
                EDIT_CAP.window,
            )
    store.mark_seen(source_id, [d.guid for d in ready], now)


def store_feed(
    store: Store,
    source_id: int,
    parsed: ParsedFeed,
    report: IngestReport,
    *,
    now: datetime,
    timezone: str,
    category: str | None,
    source_name: str,
    duplicate_window: timedelta = DUPLICATE_WINDOW,
    rules: DraftRules | None = None,
    pool: DraftPool | None = None,
) -> None:
    """Normalize and store the entries of a parsed feed `BATCH_SIZE` at a time (big
    batches on the workers of `pool`, if any).

    Equivalent to `collect_feed` + `store_drafts`, but a batch's entries are released
    once stored, so a big feed never holds every entry and every draft at once. Later
    batches see what earlier ones stored exactly as `store_drafts` sees its own batch:
    the guids of the whole document are known from the start.
    """
    entries = parsed.entries
    document_guids = {raw.guid for raw in entries}
    report.problems.extend(_empty_entries(source_name, parsed))
    while entries:
        batch = entries[:BATCH_SIZE]
        del entries[:BATCH_SIZE]
        collected = Collected(undated=parsed.undated)
        _drafts(
            batch,
            collected,
            now=now,
            timezone=timezone,
            category=category,
            rules=rules,
            pool=pool,
        )
        del batch
        report.problems.extend(collected.problems)
        store_drafts(
            store,
            source_id,
            collected,
            report,
            now=now,
            source_name=source_name,
            duplicate_window=duplicate_window,
            document_guids=document_guids,
        )


# -- the pipeline --------------------------------------------------------------------------


def ingest_remote_source(
    store: Store,
    spec: SourceSpec,
    fetcher: Fetcher,
    *,
    options: RemoteOptions | None = None,
    now: datetime | None = None,
    prefetched: Response | None = None,
) -> IngestReport:
    """Ingest one feed or page source once; failures are in the report, never raised."""
    options = options or RemoteOptions()
    now = now or datetime.now(UTC)
    report = IngestReport(source=spec.name)
    # One read: the source's row is created or updated only when the spec changed.
    state = store.prepare_fetch(spec)
    source_id = state.source_id
    if state.gone:
        report.error = (
            f'source "{spec.name}": {state.url}: gone (HTTP 410); it is no longer polled'
            " until its url changes in the configuration"
        )
        log.warning("%s", report.error)
        return report
    if spec.kind == "feed" and not is_url(spec.location):
        return _ingest_local_feed(store, spec, source_id, report, options, now)
    outcome: FetchOutcome
    try:
        if spec.kind == "feed":
            outcome = _ingest_feed(store, spec, state, report, options, now, fetcher, prefetched)
        elif spec.kind == "page":
            outcome = _ingest_pages(store, spec, state, report, options, now, fetcher, prefetched)
        else:
            raise IngestError(f'kind "{spec.kind}" is not a remote source')
    except FetchError as exc:
        report.error = f'source "{spec.name}": {exc.message}'
        outcome = FetchOutcome(
            kind=exc.kind, status=exc.status, error=report.error, retry_after=exc.retry_after
        )
    except IngestError as exc:
        report.error = f'source "{spec.name}": {exc.message}'
        outcome = FetchOutcome(kind=FetchKind.ERROR, error=report.error)
    next_due = store.record_fetch_outcome(source_id, outcome, when=now, state=state)
    if report.error:
        log.error("%s (next attempt %s)", report.error, next_due.isoformat(timespec="minutes"))
    else:
        _log_report(spec.name, report)
    return report


def _log_report(name: str, report: IngestReport) -> None:
    for problem in report.problems:
        log.warning('source "%s": skipped %s', name, problem)
    log.info(
        'source "%s": %d new, %d changed, %d unchanged, %d skipped, %d blocked',
        name,
        report.new,
        report.changed,
        report.same,
        len(report.problems),
        report.blocked,
    )


def _conditional_get(
    fetcher: Fetcher, state: FetchState, options: RemoteOptions, now: datetime
) -> Response:
    """GET the source's URL with the validators of its last fetch, sent back as received."""
    return fetcher.fetch(
        state.url,
        etag=state.etag,
        last_modified=state.last_modified,
        now=now,
        user_agent=options.user_agent,
    )


def _ingest_feed(
    store: Store,
    spec: SourceSpec,
    state: FetchState,
    report: IngestReport,
    options: RemoteOptions,
    now: datetime,
    fetcher: Fetcher,
    prefetched: Response | None,
) -> FetchOutcome:
    source_id = state.source_id
    response = prefetched or _conditional_get(fetcher, state, options, now)
    # Validators are stored exactly as received; the outcome carries them either way.
    base = FetchOutcome(
        kind=FetchKind.NOT_MODIFIED,
        status=response.status,
        etag=response.etag,
        last_modified=response.last_modified,
        new_validators=True,
        permanent_redirect=response.permanent_redirect,
        min_interval=response.min_interval,
    )
    if response.not_modified:
        return base
    parsed = parse_feed(
        response.body,
        url=response.url,
        http_charset=response.charset,
        content_type=response.content_type,
        now=now,
        timezone=options.timezone,
        strip_tracking=options.strip_tracking,
    )
    _log_dropped(spec.name, response.url, parsed)
    if parsed.bozo:
        log.warning(
            'source "%s": %s: malformed feed (%s); ingested what could be read',
            spec.name,
            response.url,
            parsed.bozo,
        )
    if options.full_text.mode != "off":
        tally = fill_full_text(
            store,
            source_id,
            parsed.entries,
            fetcher,
            options.full_text,
            now=now,
            source_name=spec.name,
            user_agent=options.user_agent,
        )
        report.full_text_ok += tally.ok
        report.full_text_failed += tally.failed
    store_feed(
        store,
        source_id,
        parsed,
        report,
        now=now,
        timezone=options.timezone,
        category=spec.category,
        source_name=spec.name,
        duplicate_window=options.duplicate_window,
        rules=options.rules,
        pool=options.pool,
    )
    hints = [h for h in (response.min_interval, parsed.min_interval) if h]
    return dataclasses.replace(
        base,
        kind=FetchKind.OK,
        bozo=parsed.bozo,
        min_interval=max(hints) if hints else None,
    )


def _ingest_pages(
    store: Store,
    spec: SourceSpec,
    state: FetchState,
    report: IngestReport,
    options: RemoteOptions,
    now: datetime,
    fetcher: Fetcher,
    prefetched: Response | None,
) -> FetchOutcome:
    source_id = state.source_id
    collected = Collected()
    if options.link_pattern:
        index = prefetched or _conditional_get(fetcher, state, options, now)
        first_status = index.status
        main = index
        if not index.not_modified:
            pattern = re.compile(options.link_pattern)
            links = find_article_links(
                index.body, base=index.url, charset=index.charset, pattern=pattern
            )
            known = {k.url for k in store.known_articles(source_id, [], links)}
            linked = store.linked_guids(source_id, [canonical_url(u) or u for u in links])
            fresh = [u for u in links if u not in known and (canonical_url(u) or u) not in linked][
                : options.max_articles
            ]
            _fetch_articles(fetcher, fresh, collected, report, options, now, spec)
    else:
        urls = list(dict.fromkeys([state.url, *options.urls]))
        main = prefetched or fetcher.fetch(state.url, now=now, user_agent=options.user_agent)
        first_status = main.status
        _collect_one(main, collected, options, now, spec, fetcher)
        _fetch_articles(fetcher, urls[1:], collected, report, options, now, spec)
    report.problems.extend(collected.problems)
    store_drafts(
        store,
        source_id,
        collected,
        report,
        now=now,
        source_name=spec.name,
        duplicate_window=options.duplicate_window,
    )
    return FetchOutcome(
        kind=FetchKind.NOT_MODIFIED if main.not_modified else FetchKind.OK,
        status=first_status,
        etag=main.etag,
        last_modified=main.last_modified,
        new_validators=bool(options.link_pattern),
        permanent_redirect=main.permanent_redirect,
        min_interval=main.min_interval,
    )


def _collect_one(
    response: Response,
    collected: Collected,
    options: RemoteOptions,
    now: datetime,
    spec: SourceSpec,
    fetcher: Fetcher,
) -> None:
    site = options.full_text  # a page source's site rules and selectors
    finder = PageFinder(site.rules, site.selectors, page_fetch(fetcher, options.user_agent, now))
    one = collect_page(
        response,
        now=now,
        timezone=options.timezone,
        category=spec.category,
        rules=options.rules,
        strip_tracking=options.strip_tracking,
        finder=finder,
    )
    collected.drafts.extend(one.drafts)
    collected.problems.extend(one.problems)
    collected.undated |= one.undated


def _fetch_articles(
    fetcher: Fetcher,
    urls: Sequence[str],
    collected: Collected,
    report: IngestReport,
    options: RemoteOptions,
    now: datetime,
    spec: SourceSpec,
) -> None:
    """Fetch article pages; one that fails is a skipped article, not a failed source."""
    for url in urls:
        try:
            response = fetcher.fetch(url, now=now, user_agent=options.user_agent)
        except FetchError as exc:
            collected.problems.append(Problem(url, exc.message.removeprefix(f"{url}: ")))
            continue
        _collect_one(response, collected, options, now, spec, fetcher)


def _ingest_local_feed(
    store: Store,
    spec: SourceSpec,
    source_id: int,
    report: IngestReport,
    options: RemoteOptions,
    now: datetime,
) -> IngestReport:
    """A feed file on disk: skipped cheaply when its mtime, size and hash are unchanged."""
    path = Path(spec.location)
    try:
        st = path.stat()
        previous = store.file_fingerprints(source_id).get(LOCAL_FEED_KEY)
        if previous and (previous.mtime_ns, previous.size) == (st.st_mtime_ns, st.st_size):
            report.unchanged_files += 1
            store.record_fetch(source_id, error=None, when=now)
            return report
        data = path.read_bytes()
    except OSError as exc:
        report.error = f'source "{spec.name}": {path}: cannot read it: {exc.strerror}'
        store.record_fetch(source_id, error=report.error, when=now)
        log.error("%s", report.error)
        return report
    digest = content_digest(data)
    fingerprint = FileFingerprint(LOCAL_FEED_KEY, st.st_mtime_ns, st.st_size, digest)
    if previous is None or previous.content_hash != digest:
        try:
            parsed = parse_feed(
                data,
                url=path.resolve().as_uri(),
                now=now,
                timezone=options.timezone,
                strip_tracking=options.strip_tracking,
            )
        except IngestError as exc:
            report.error = f'source "{spec.name}": {exc.message}'
            store.record_fetch(source_id, error=report.error, when=now)
            log.error("%s", report.error)
            return report
        del data  # the entries are all that is needed from here on
        _log_dropped(spec.name, str(path), parsed)
        store_feed(
            store,
            source_id,
            parsed,
            report,
            now=now,
            timezone=options.timezone,
            category=spec.category,
            source_name=spec.name,
            rules=options.rules,
            pool=options.pool,
        )
    else:
        report.unchanged_files += 1
    store.save_fingerprints(source_id, [fingerprint])
    store.record_fetch(source_id, error=None, when=now)
    _log_report(spec.name, report)
    return report
