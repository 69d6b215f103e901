"""The things the CLI and the daemon do, each once: open the store, ingest sources or an
ad-hoc path, build the feeds. Settings are passed in; nothing is global."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from db.counters import BuildRecord
from db.records import ArticleDraft, SourceSpec, SourceState, TopicDef
from db.store import Store
from feeds.build import BuildReport, build_feeds
from feeds.site import SiteInfo
from feeds.sitebuild import build_pages
from feeds.websub import announce
from ingest.article import DraftRules
from ingest.collect import Collected, collect_feed
from ingest.errors import IngestError
from ingest.feed import looks_like_feed
from ingest.fetch import Fetcher, FetchError, FetchPolicy, Response
from ingest.page import find_feed_links
from ingest.pipeline import IngestReport, Progress, ingest_files_source
from ingest.pool import DraftPool
from ingest.remote import RemoteOptions, collect_article, ingest_remote_source
from rassegna.config import Settings, SourceConfig, topic_slug
from rassegna.errors import RassegnaError
from rassegna.fulltext import full_text_options

log = logging.getLogger("rassegna")


def site_info(settings: Settings) -> SiteInfo:
    site = settings.site
    return SiteInfo(
        title=site.title,
        link=site.link,
        base_url=site.base_url,
        language=site.language,
        timezone=site.timezone,
        description=site.description,
        items_per_feed=settings.output.items_per_feed,
        interval_seconds=settings.scheduler.interval,
        min_tag_articles=settings.output.min_tag_articles,
        author_feeds=settings.output.author_feeds,
        min_author_articles=settings.output.min_author_articles,
        limits=settings.output.limits.pairs(),
        archive_page_size=settings.output.archive_page_size if settings.output.archive else 0,
        hubs=tuple(settings.websub.hubs),
        remote_pages=settings.output.remote_pages,
        templates=str(settings.output.templates or ""),
        section_page_size=settings.output.section_page_size,
        section_pages=settings.output.section_pages,
    )


def draft_rules(settings: Settings, source: str | None = None) -> DraftRules:
    """Normalization choices, with the rewrite and keep/block rules of `source` (a
    source name; None for ad-hoc paths and URLs, which only rules for every source
    reach)."""
    from rassegna.rulesets import source_rewriter, source_rules

    return DraftRules(
        category_synonyms=dict(settings.normalize.categories),
        auto_tags=settings.normalize.auto_tags,
        rewrite=source_rewriter(settings, source),
        filters=source_rules(settings, source),
    )


def source_spec(settings: Settings, source: SourceConfig) -> SourceSpec:
    return SourceSpec(
        name=source.name,
        kind=source.kind,
        location=source.location,
        category=source.category,
        interval_seconds=settings.interval_of(source),
        interval_auto=settings.is_adaptive(source),
        interval_min=settings.scheduler.min_interval,
        interval_max=settings.scheduler.max_interval,
    )


def select_sources(settings: Settings, names: Sequence[str]) -> list[SourceConfig]:
    """The named sources (all enabled ones when `names` is empty)."""
    if not names:
        return [s for s in settings.sources if s.enabled]
    chosen = []
    for name in names:
        source = settings.source(name)
        if source is None:
            known = ", ".join(f'"{s.name}"' for s in settings.sources) or "none"
            raise RassegnaError(f'no source named "{name}" in {settings.origin} (known: {known})')
        chosen.append(source)
    return chosen


def make_fetcher(settings: Settings) -> Fetcher:
    """The HTTP client of remote sources; share one per process (it keeps the per-host
    politeness gates) and close it when done."""
    ingest = settings.ingest
    return Fetcher(
        FetchPolicy(
            user_agent=ingest.user_agent,
            max_bytes=ingest.max_bytes,
            allow_private_networks=ingest.allow_private_networks,
            host_delay=ingest.host_delay,
        )
    )


def remote_options(
    settings: Settings, source: SourceConfig | None = None, pool: DraftPool | None = None
) -> RemoteOptions:
    if source is None:
        # An ad-hoc URL: an article page finds its text as a page source's do.
        return RemoteOptions(
            timezone=settings.site.timezone,
            rules=draft_rules(settings),
            strip_tracking=settings.ingest.strip_tracking,
            full_text=full_text_options(settings, None),
            pool=pool,
        )
    return RemoteOptions(
        timezone=settings.site.timezone,
        rules=draft_rules(settings, source.name),
        strip_tracking=settings.ingest.strip_tracking,
        user_agent=source.user_agent,
        urls=tuple(source.urls),
        link_pattern=source.link_pattern,
        full_text=full_text_options(settings, source),
        pool=pool,
    )


def draft_pool(settings: Settings) -> DraftPool:
    """The normalizer workers of `[ingest] processes`; one per process, closed with it."""
    return DraftPool(settings.ingest.processes)


@dataclass(frozen=True, slots=True)
class Ingest:
    """Ingests by hand or by the daemon, with what they share: the HTTP client of remote
    sources (the daemon passes its shared one; without it each remote source gets a
    short-lived one), the normalizer workers for big batches, and the time taken as now
    (the clock's when None)."""

    settings: Settings
    store: Store
    fetcher: Fetcher | None = None
    pool: DraftPool | None = None
    now: datetime | None = None

    def source(self, source: SourceConfig, progress: Progress | None = None) -> IngestReport:
        """Ingest one configured source; a failure is reported, never raised."""
        spec = source_spec(self.settings, source)
        try:
            if source.kind in ("feed", "page"):
                return self._remote(spec, remote_options(self.settings, source, self.pool))
            return self._files(spec, source.name, progress)
        except IngestError as exc:
            log.error("%s", exc.message)
            report = IngestReport(source=source.name, error=exc.message)
            source_id = self.store.ensure_source(spec)
            self.store.record_fetch(source_id, error=exc.message)
            return report

    def path(
        self, path: Path, progress: Progress | None = None, *, source_name: str | None = None
    ) -> IngestReport:
        """Ingest an ad-hoc file or folder.

        A path inside a configured files source is ingested as part of that source, so
        its articles keep the same identity as on a scheduled run. Any other path goes to
        the ad-hoc source `source_name`, by default named after the folder itself (never
        its path, which would be published as the source's name). An existing ad-hoc
        source keeps its identity: a path inside its folder keeps the guids a
        whole-folder ingest gives; with `source_name` a folder elsewhere takes its place
        (a folder moved).
        """
        settings = self.settings
        target = path.resolve()
        if not target.exists():
            raise RassegnaError(f"{path}: no such file or folder")
        if target.is_file() and target.suffix not in (".txt", ".md"):
            raise RassegnaError(f"{path}: not an article file (expected .txt or .md)")
        configured = _configured_files_source(settings, target, source_name)
        if configured is not None:
            spec = source_spec(settings, configured)
            return self._files(spec, configured.name, progress, only=target)
        name, root = _ad_hoc_folder(settings, self.store, path, target, source_name)
        spec = SourceSpec(
            name=name,
            kind="files",
            location=str(root),
            interval_seconds=settings.scheduler.interval,
            ad_hoc=True,
        )
        return self._files(spec, None, progress, only=target if target != root else None)

    def _remote(self, spec: SourceSpec, options: RemoteOptions) -> IngestReport:
        if self.fetcher is not None:
            return ingest_remote_source(
                self.store, spec, self.fetcher, options=options, now=self.now
            )
        with make_fetcher(self.settings) as own:
            return ingest_remote_source(self.store, spec, own, options=options, now=self.now)

    def _files(
        self,
        spec: SourceSpec,
        rules_of: str | None,
        progress: Progress | None,
        *,
        only: Path | None = None,
    ) -> IngestReport:
        """A files source read with the rules of the configured source `rules_of` (None:
        only the rules for every source, as for an ad-hoc folder)."""
        return ingest_files_source(
            self.store,
            spec,
            timezone=self.settings.site.timezone,
            rules=draft_rules(self.settings, rules_of),
            only=only,
            progress=progress,
            pool=self.pool,
        )


def _ad_hoc_folder(
    settings: Settings, store: Store, path: Path, target: Path, source_name: str | None
) -> tuple[str, Path]:
    """The ad-hoc source's name and folder for `target`, or the one-sentence reason why
    its name would clash with another source."""
    root = target if target.is_dir() else target.parent
    name = source_name or root.name
    if not name:
        raise RassegnaError(
            f"{path}: the folder has no name of its own; name the source with --source"
        )
    if settings.source(name) is not None:  # a configured source of another kind or folder
        raise RassegnaError(
            f'"{name}", the folder\'s name, is a configured source in {settings.origin}; '
            "name this one with --source"
        )
    stored = _stored_source(store, name)
    if stored is not None and stored.kind != "files":
        raise RassegnaError(
            f'source "{name}" is a {stored.kind} source, not a folder; name this one with --source'
        )
    if stored is not None:
        previous = Path(stored.location)
        if target == previous or previous in target.parents:
            root = previous
        elif source_name is None:
            raise RassegnaError(
                f'a source named "{name}" already reads another folder ({previous}); '
                "name this one with --source"
            )
    if source_name is None:
        log.info(
            '%s: ingested as the ad-hoc source "%s", the folder\'s name (--source NAME names it)',
            path,
            name,
        )
    return name, root


def _configured_files_source(
    settings: Settings, target: Path, source_name: str | None
) -> SourceConfig | None:
    """The configured files source whose folder holds `target` (the one named
    `source_name`, if given; a configured name that cannot hold it is an error)."""
    for source in settings.sources:
        if source.kind == "files" and source.path is not None:
            root = source.path.resolve()
            inside = target == root or root in target.parents
            if inside and source_name in (None, source.name):
                return source
    if source_name is not None and settings.source(source_name) is not None:
        raise RassegnaError(
            f'source "{source_name}" is configured in {settings.origin} and does not read '
            f"{target}; ingest it by name, or choose another name for --source"
        )
    return None


def _stored_source(store: Store, name: str) -> SourceState | None:
    return next((s for s in store.source_states() if s.name == name), None)


def _discover(fetcher: Fetcher, url: str, now: datetime) -> tuple[str, Response]:
    """Fetch an ad-hoc URL and decide what it is: ("feed", response) for a feed, or for
    a page that advertises one (the feed is fetched instead); else ("page", response)."""
    response = fetcher.fetch(url, now=now)
    if looks_like_feed(response.body, response.content_type):
        return "feed", response
    feeds = find_feed_links(response.body, base=response.url, charset=response.charset)
    if feeds:
        log.info("%s: the page links the feed %s; ingesting the feed", url, feeds[0])
        return "feed", fetcher.fetch(feeds[0], now=now)
    return "page", response


def ingest_url(
    settings: Settings,
    store: Store | None,
    url: str,
    *,
    dry_run: bool = False,
    on_draft: Callable[[ArticleDraft], None] | None = None,
    now: datetime | None = None,
    source_name: str | None = None,
) -> IngestReport:
    """Ingest an ad-hoc URL: a configured source's URL ingests that source; a feed, or a
    page advertising a feed, is ingested as a feed; any other page as one article. The
    ad-hoc source is named `source_name`, by default after the feed's (or page's) URL.

    With `dry_run` nothing is stored: each draft goes to `on_draft` instead.
    """
    now = now or datetime.now(UTC)
    if not dry_run and store is not None:
        for source in settings.sources:
            if source.url == url and source.kind in ("feed", "page"):
                if source_name not in (None, source.name):
                    raise RassegnaError(
                        f'{url} is the source "{source.name}" in {settings.origin}; '
                        "ingest it without --source"
                    )
                return Ingest(settings, store, now=now).source(source)
        if source_name is not None and settings.source(source_name) is not None:
            raise RassegnaError(
                f'source "{source_name}" is configured in {settings.origin} with another '
                "address; choose another name for --source"
            )
    options = remote_options(settings)
    with make_fetcher(settings) as fetcher:
        try:
            kind, response = _discover(fetcher, url, now)
        except FetchError as exc:
            raise RassegnaError(exc.message) from exc
        if dry_run or store is None:
            report = IngestReport(source=response.url)
            collected = _collect(kind, response, fetcher, options, now)
            report.problems.extend(collected.problems)
            for draft in collected.drafts:
                report.new += 1
                if on_draft is not None:
                    on_draft(draft)
            return report
        name = source_name or (response.url if kind == "feed" else url)
        stored = _stored_source(store, name) if source_name else None
        if stored is not None and stored.kind == "files":
            raise RassegnaError(
                f'source "{name}" is a folder, not a feed or page; choose another name for --source'
            )
        spec = SourceSpec(
            name=name,
            kind=kind,
            location=response.url,
            interval_seconds=settings.scheduler.interval,
            ad_hoc=True,
        )
        return ingest_remote_source(
            store, spec, fetcher, options=options, now=now, prefetched=response
        )


def _collect(
    kind: str, response: Response, fetcher: Fetcher, options: RemoteOptions, now: datetime
) -> Collected:
    """What a dry run would store, read with the options ingesting uses."""
    try:
        if kind == "feed":
            return collect_feed(response, options.drafting(now))
        return collect_article(response, fetcher, options, now)
    except IngestError as exc:
        raise RassegnaError(exc.message) from exc


def topic_defs(settings: Settings) -> list[TopicDef]:
    return [
        TopicDef(
            slug=topic_slug(topic),
            name=topic.name,
            query=topic.query,
            title=topic.title,
            description=topic.description,
            sources=tuple(topic.sources),
            categories=tuple(topic.categories),
            tags=tuple(topic.tags),
            exclude=tuple(topic.exclude),
        )
        for topic in settings.topics
    ]


def sync_topics(settings: Settings, store: Store) -> None:
    """Store the configured topics, back-filling new or edited ones once (their digest
    is kept). Runs before each build (an unchanged set costs one read): articles stored
    before an edit was synced are covered by its back-fill. New and changed articles are
    matched against the stored topics inside `Store.upsert_articles`."""
    filled = store.sync_topics(topic_defs(settings))
    if filled:
        log.info("topics back-filled: %s", ", ".join(filled))


def search_feed(settings: Settings, store: Store) -> Callable[[str], bytes]:
    """The `/cerca` answer for the server: an Atom feed of a query's best 50 results
    (`db.search.QueryError` for a query it refuses)."""
    from rassegna.search import SearchFeed

    return SearchFeed(store, site_info(settings))


def build(settings: Settings, store: Store) -> BuildReport:
    """Regenerate every feed and page in the output folder (unchanged files are left alone), then
    ping the WebSub hubs about the feeds that changed (a hub's failure is only logged)."""
    started = datetime.now(UTC)
    clock = time.perf_counter()
    sync_topics(settings, store)
    site = site_info(settings)
    report = build_feeds(store, site, settings.output.dir)
    pages = build_pages(store, site, settings.output.dir, specs=report.feeds)
    report.written += pages.written
    report.unchanged += pages.unchanged
    report.removed += pages.removed
    store.record_build(
        BuildRecord(
            started=started,
            seconds=time.perf_counter() - clock,
            written=len(report.written),
            unchanged=len(report.unchanged),
            removed=len(report.removed),
            feeds=len(report.feeds),
        )
    )
    if site.hubs:
        announce(site, report)
    return report
