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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from db.records import FetchKind, FetchOutcome, FetchState, FileFingerprint, SourceSpec
from db.store import Store
from ingest import DEFAULT_TIMEZONE, is_url
from ingest.article import DraftRules
from ingest.collect import Collected, Drafting, collect_page, parse_response
from ingest.errors import IngestError
from ingest.extract import PageFinder
from ingest.feed import DEFAULT_LIMITS, FeedLimits
from ingest.feed_identity import ParsedFeed
from ingest.fetch import Fetcher, FetchError, Response
from ingest.files import content_digest
from ingest.fulltext import FullTextOptions, PageFetcher, fill_full_text
from ingest.page import find_article_links
from ingest.pipeline import IngestReport, Problem
from ingest.pool import DraftPool
from ingest.remote_store import BATCH_SIZE, DUPLICATE_WINDOW, store_drafts, store_feed
from ingest.urls import canonical_url

log = logging.getLogger("rassegna.ingest")

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
    limits: FeedLimits = DEFAULT_LIMITS  # how much of a feed document is read
    batch_size: int = BATCH_SIZE  # a feed's entries normalized and stored together

    def drafting(self, now: datetime, category: str | None = None) -> Drafting:
        """How a fetch made at `now` for a source of `category` becomes drafts."""
        return Drafting(now, self.timezone, category, self.rules, self.strip_tracking, self.limits)


# -- the pipeline --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Poll:
    """One poll of a remote source: what each of its steps works with."""

    store: Store
    spec: SourceSpec
    state: FetchState
    report: IngestReport
    options: RemoteOptions
    now: datetime
    fetcher: Fetcher

    @property
    def source_id(self) -> int:
        return self.state.source_id


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
    report = IngestReport(source=spec.name)
    # One read: the source's row is created or updated only when the spec changed.
    state = store.prepare_fetch(spec)
    poll = _Poll(
        store, spec, state, report, options or RemoteOptions(), now or datetime.now(UTC), fetcher
    )
    if state.gone:
        report.error = (
            f'source "{spec.name}": {state.url}: gone (HTTP 410); it is no longer polled'
            " until its url changes in the configuration"
        )
        log.warning("%s", report.error)
        return report
    if spec.kind == "feed" and not is_url(spec.location):
        return _ingest_local_feed(poll)
    outcome: FetchOutcome
    try:
        if spec.kind == "feed":
            outcome = _ingest_feed(poll, prefetched)
        elif spec.kind == "page":
            outcome = _ingest_pages(poll, prefetched)
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
    next_due = store.record_fetch_outcome(poll.source_id, outcome, when=poll.now, state=state)
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


def _conditional_get(poll: _Poll) -> Response:
    """GET the source's URL with the validators of its last fetch, sent back as received."""
    state = poll.state
    return poll.fetcher.fetch(
        state.url,
        etag=state.etag,
        last_modified=state.last_modified,
        now=poll.now,
        user_agent=poll.options.user_agent,
    )


def _ingest_feed(poll: _Poll, prefetched: Response | None) -> FetchOutcome:
    options, spec = poll.options, poll.spec
    response = prefetched or _conditional_get(poll)
    base = _outcome_of(response, FetchKind.NOT_MODIFIED, response.status, new_validators=True)
    if response.not_modified:
        return base
    parsed = _parse(poll, response)
    if parsed.bozo:
        log.warning(
            'source "%s": %s: malformed feed (%s); ingested what could be read',
            spec.name,
            response.url,
            parsed.bozo,
        )
    if options.full_text.mode != "off":
        pages = PageFetcher(poll.fetcher, poll.now, options.user_agent)
        tally = fill_full_text(
            poll.store,
            poll.source_id,
            parsed.entries,
            pages,
            options.full_text,
            source_name=spec.name,
        )
        poll.report.full_text_ok += tally.ok
        poll.report.full_text_failed += tally.failed
    _store_parsed(poll, parsed)
    seconds, origin = _longest_hint(response, parsed)
    return dataclasses.replace(
        base,
        kind=FetchKind.OK,
        bozo=parsed.bozo,
        min_interval=seconds,
        min_interval_origin=origin,
    )


def _parse(poll: _Poll, response: Response) -> ParsedFeed:
    options = poll.options
    drafting = options.drafting(poll.now)
    return parse_response(response, drafting, source=poll.spec.name, pool=options.pool)


def _store_parsed(poll: _Poll, parsed: ParsedFeed) -> None:
    options = poll.options
    store_feed(
        poll.store,
        poll.source_id,
        parsed,
        poll.report,
        now=poll.now,
        timezone=options.timezone,
        category=poll.spec.category,
        source_name=poll.spec.name,
        duplicate_window=options.duplicate_window,
        rules=options.rules,
        pool=options.pool,
        batch_size=options.batch_size,
    )


def _longest_hint(response: Response, parsed: ParsedFeed) -> tuple[int | None, str | None]:
    """The longer of the server's (headers) and the feed's own (ttl, sy:updatePeriod)
    lower bound on the polling interval, with what set it."""
    hints = [
        (seconds, origin)
        for seconds, origin in (
            (response.min_interval, response.min_interval_origin),
            (parsed.min_interval, parsed.min_interval_origin),
        )
        if seconds
    ]
    return max(hints, key=lambda h: h[0]) if hints else (None, None)


def _ingest_pages(poll: _Poll, prefetched: Response | None) -> FetchOutcome:
    store, options, source_id = poll.store, poll.options, poll.source_id
    collected = Collected()
    if options.link_pattern:
        index = prefetched or _conditional_get(poll)
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
            _fetch_articles(poll, fresh, collected)
    else:
        urls = list(dict.fromkeys([poll.state.url, *options.urls]))
        main = prefetched or poll.fetcher.fetch(
            poll.state.url, now=poll.now, user_agent=options.user_agent
        )
        first_status = main.status
        _collect_one(poll, main, collected)
        _fetch_articles(poll, urls[1:], collected)
    poll.report.problems.extend(collected.problems)
    store_drafts(
        store,
        source_id,
        collected,
        poll.report,
        now=poll.now,
        source_name=poll.spec.name,
        duplicate_window=options.duplicate_window,
    )
    kind = FetchKind.NOT_MODIFIED if main.not_modified else FetchKind.OK
    return _outcome_of(main, kind, first_status, new_validators=bool(options.link_pattern))


def _outcome_of(
    response: Response, kind: FetchKind, status: int, *, new_validators: bool
) -> FetchOutcome:
    """How a poll answered by `response` ended: with its validators, stored exactly as
    received when `new_validators`, where its permanent redirects led, and the server's
    lower bound on the interval."""
    return FetchOutcome(
        kind=kind,
        status=status,
        etag=response.etag,
        last_modified=response.last_modified,
        new_validators=new_validators,
        permanent_redirect=response.permanent_redirect,
        min_interval=response.min_interval,
        min_interval_origin=response.min_interval_origin,
    )


def collect_article(
    response: Response,
    fetcher: Fetcher,
    options: RemoteOptions,
    now: datetime,
    *,
    category: str | None = None,
) -> Collected:
    """The draft of one article page of a page source or of an ad-hoc URL, its body found
    by the site rule for its host, then the options' selectors, then trafilatura (an
    article split over pages is fetched through `fetcher`). Ingest and `--dry-run` both
    come here, so a preview shows what ingesting stores."""
    site = options.full_text
    pages = PageFetcher(fetcher, now, options.user_agent)
    finder = PageFinder(site.rules, site.selectors, pages.more)
    return collect_page(response, options.drafting(now, category), finder)


def _collect_one(poll: _Poll, response: Response, collected: Collected) -> None:
    one = collect_article(
        response, poll.fetcher, poll.options, poll.now, category=poll.spec.category
    )
    collected.drafts.extend(one.drafts)
    collected.problems.extend(one.problems)
    collected.undated |= one.undated


def _fetch_articles(poll: _Poll, urls: Sequence[str], collected: Collected) -> None:
    """Fetch article pages; one that fails is a skipped article, not a failed source."""
    for url in urls:
        try:
            response = poll.fetcher.fetch(url, now=poll.now, user_agent=poll.options.user_agent)
        except FetchError as exc:
            collected.problems.append(Problem(url, exc.message.removeprefix(f"{url}: ")))
            continue
        _collect_one(poll, response, collected)


def _ingest_local_feed(poll: _Poll) -> IngestReport:
    """A feed file on disk: skipped cheaply when its mtime, size and hash are unchanged."""
    store, spec, source_id, report, now = (
        poll.store,
        poll.spec,
        poll.source_id,
        poll.report,
        poll.now,
    )
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
            parsed = _parse(poll, Response.bare(path.resolve().as_uri(), data))
        except IngestError as exc:
            report.error = f'source "{spec.name}": {exc.message}'
            store.record_fetch(source_id, error=report.error, when=now)
            log.error("%s", report.error)
            return report
        del data  # the entries are all that is needed from here on
        _store_parsed(poll, parsed)
    else:
        report.unchanged_files += 1
    store.save_fingerprints(source_id, [fingerprint])
    store.record_fetch(source_id, error=None, when=now)
    _log_report(spec.name, report)
    return report
