"""The daemon: APScheduler fires a short tick that ingests the sources that are due, in a
bounded worker pool, and rebuilds the feeds when anything changed. The schedule itself
(when each source is next due) lives in the database, so a restart resumes it.

The main thread owns the signals and talks to systemd: READY once the store is open and
the first tick is scheduled, STATUS after each tick, WATCHDOG only while ticks are not
hung, RELOADING/READY around SIGHUP, STOPPING on SIGTERM/SIGINT.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.background import BackgroundScheduler

from db.errors import StoreError
from db.store import Store
from feeds.build import WrittenCounts, shown_article_ids
from feeds.errors import FeedError
from ingest.fetch import Fetcher
from ingest.pipeline import IngestReport
from ingest.pool import DraftPool
from rassegna.config import Settings, SourceConfig, load_settings
from rassegna.errors import RassegnaError
from rassegna.folder_watch import watch_folders
from rassegna.heap import limit_malloc_arenas, trim_heap
from rassegna.lock import DaemonLock
from rassegna.metrics import Metrics
from rassegna.notify import Notifier
from rassegna.operations import (
    Ingest,
    build,
    draft_pool,
    make_fetcher,
    search_feed,
    site_info,
    source_spec,
)
from rassegna.signals import install_signals, restore_signals
from rassegna.tick_overruns import TickOverruns

if TYPE_CHECKING:  # the server (uvicorn, starlette) is imported only when it is enabled
    from rassegna.server import BackgroundServer

log = logging.getLogger("rassegna.daemon")

MAX_TICK_SECONDS = 30
# A tick running longer than this is hung: stop feeding the watchdog so systemd restarts us.
MIN_HANG_SECONDS = 300
# One tick keeps claiming and ingesting due sources for at most this long (or one tick
# interval, if longer); the next tick carries on.
MIN_TICK_WORK_SECONDS = 10
HOUSEKEEPING_HOUR = 3  # local time of the site: the quiet hours of a newsroom


@dataclass(slots=True)
class CycleReport:
    reports: list[IngestReport] = field(default_factory=list)
    built: bool = False
    written: int = 0
    written_counts: WrittenCounts = field(default_factory=lambda: WrittenCounts(0, 0, 0))

    @property
    def errors(self) -> int:
        return sum(1 for r in self.reports if not r.ok)


class Daemon:
    """Runs ingest cycles on schedule and, when enabled, the HTTP server."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        config_path: Path | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        self.metrics = Metrics()
        self._cycle_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reload_requested = threading.Event()
        self._started = time.monotonic()
        self._tick_started: float | None = None
        self._tick_finished: float | None = None
        self._first_tick_done = False
        self._archive_pending = 0
        self._observed_at: float | None = None
        self._last_errors = 0
        self._scheduler: BackgroundScheduler | None = None
        self._overruns = TickOverruns()
        # One HTTP client for all workers, so per-host politeness holds across them.
        self._fetcher: Fetcher | None = None
        self._drafts: DraftPool | None = None  # normalizer workers, while running
        # The ingest workers, kept for the whole run (not a new pool per batch).
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        # Who holds a claim on a source: unique among daemons sharing one store.
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        # The sources claimed and not yet ingested: the heartbeat renews their leases.
        self._held: set[str] = set()
        self._held_lock = threading.Lock()

    # -- one cycle -----------------------------------------------------------------------

    def due_sources(
        self, now: datetime | None = None, limit: int | None = None
    ) -> list[SourceConfig]:
        """Claim the sources that are due (see `Store.claim_due`): a source claimed here is
        polled by no other daemon until its fetch is recorded or the lease runs out."""
        enabled = {s.name: s for s in self.settings.sources if s.enabled}
        claimed = self.store.claim_due(
            self.owner,
            list(enabled),
            now=now,
            lease_seconds=self.settings.scheduler.lease,
            limit=limit,
        )
        return [enabled[name] for name in claimed]

    def sync_sources(self) -> None:
        """Make every configured source known to the store, so it can be claimed."""
        for source in self.settings.sources:
            self.store.ensure_source(source_spec(self.settings, source))

    def cycle(
        self,
        *,
        everything: bool = False,
        force_build: bool = False,
        only: Sequence[str] = (),
        first: bool = False,
    ) -> CycleReport:
        """Ingest the due sources (all with `everything`, or the `only` names), then build
        the feeds if any article changed (or `force_build`)."""
        settings = self.settings
        with self._cycle_lock:  # a tick never overlaps the previous one or a watcher run
            report = CycleReport()
            if only:
                sources = [s for s in settings.sources if s.name in only and s.enabled]
                report.reports = self._ingest(settings, sources)
            elif everything:
                sources = [s for s in settings.sources if s.enabled]
                report.reports = self._ingest(settings, sources)
            else:
                sources = []
                if first:
                    # Local folders are rescanned at start whatever their schedule: what
                    # changed while the daemon was down is published at once.
                    sources = [s for s in settings.sources if s.enabled and s.kind == "files"]
                    report.reports = self._ingest(settings, sources)
                deadline = time.monotonic() + max(self.tick_seconds(), MIN_TICK_WORK_SECONDS)
                sources += self._claim_and_ingest(settings, deadline, report.reports)
            # A huge history gets its archive pages over several builds (a capped number
            # each), so keep building while some are still to write.
            if force_build or self._archive_pending or any(r.stored for r in report.reports):
                try:
                    # Daemons sharing one PostgreSQL store take turns writing the feeds.
                    with self.store.exclusive("rassegna-build"):
                        built = build(settings, self.store)
                    report.built = True
                    report.written = len(built.written)
                    report.written_counts = built.written_counts()
                    self._archive_pending = built.archive_pages_pending
                    self.metrics.builds.inc()
                    self.metrics.files_written.inc(report.written)
                except FeedError as exc:
                    log.error("%s", exc.message)
            if sources:
                log.info(
                    "cycle: %d sources, %d new, %d changed, %d errors, %s",
                    len(sources),
                    sum(r.new for r in report.reports),
                    sum(r.changed for r in report.reports),
                    report.errors,
                    report.written_counts,
                )
            return report

    def _ingest_one(self, settings: Settings, source: SourceConfig) -> IngestReport | None:
        if self._stop.is_set():  # shutting down: start nothing new
            return None
        run = Ingest(settings, self.store, fetcher=self._fetcher, pool=self._drafts)
        report = run.source(source)
        self.metrics.fetches.labels("error" if report.error else "ok").inc()
        self.metrics.articles.labels("new").inc(report.new)
        self.metrics.articles.labels("changed").inc(report.changed)
        self.metrics.articles.labels("blocked").inc(report.blocked)
        self.metrics.full_text.labels("ok").inc(report.full_text_ok)
        self.metrics.full_text.labels("failed").inc(report.full_text_failed)
        return report

    @contextmanager
    def _workers(self, settings: Settings) -> Iterator[ThreadPoolExecutor]:
        """The run's worker pool (remade if a reload changed `scheduler.workers`), or a
        pool for this call only when the daemon is not running (`cycle()` called alone)."""
        size = settings.scheduler.workers
        if self._pool is None:
            with ThreadPoolExecutor(size, thread_name_prefix="ingest") as pool:
                yield pool
            return
        if self._pool_size != size:
            self._pool.shutdown(wait=True)
            self._pool = ThreadPoolExecutor(size, thread_name_prefix="ingest")
            self._pool_size = size
        yield self._pool

    def _ingest(self, settings: Settings, sources: list[SourceConfig]) -> list[IngestReport]:
        with self._workers(settings) as pool:
            results = pool.map(lambda s: self._ingest_one(settings, s), sources)
            return [r for r in results if r is not None]

    def _claim_and_ingest(
        self, settings: Settings, deadline: float, reports: list[IngestReport]
    ) -> list[SourceConfig]:
        """Claim due sources and ingest them until none is due or `deadline`; returns the
        sources claimed, appends their reports to `reports`.

        Claims are topped up as workers free (never more than two per worker in hand), so
        one slow source does not idle the other workers, and sources left unclaimed stay
        free for the other daemons sharing the store.
        """
        workers = settings.scheduler.workers
        claimed: list[SourceConfig] = []
        running: dict[Future[IngestReport | None], str] = {}
        more = True
        with self._workers(settings) as pool:
            try:
                while True:
                    if (
                        more
                        and len(running) <= workers
                        and not self._stop.is_set()
                        and time.monotonic() < deadline
                    ):
                        batch = self.due_sources(limit=2 * workers - len(running))
                        more = bool(batch)
                        claimed += batch
                        with self._held_lock:
                            self._held.update(s.name for s in batch)
                        for source in batch:
                            running[pool.submit(self._ingest_one, settings, source)] = source.name
                    if not running:
                        return claimed
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    with self._held_lock:
                        self._held.difference_update(running[f] for f in done)
                    for future in done:
                        del running[future]
                    reports += [r for r in (f.result() for f in done) if r is not None]
            finally:
                # A failed claim (the database went away) still lets the started
                # ingests finish before the tick reports the failure.
                wait(running)
                with self._held_lock:
                    self._held.difference_update(running.values())

    def tick(self) -> None:
        """What the scheduler fires: the first one ingests everything and always builds."""
        self._tick_started = time.monotonic()
        try:
            first = not self._first_tick_done
            report = self.cycle(first=first, force_build=first)
            self._first_tick_done = True
            self._last_errors = report.errors
            # Per-source gauges come from a query over every source and its articles:
            # refreshed at most once a minute, not on every (frequent, cheap) tick.
            if self._observed_at is None or time.monotonic() - self._observed_at >= 60:
                self.metrics.observe_sources(
                    self.store.source_states(), self.store.blocked_counts()
                )
                self._observed_at = time.monotonic()
        except (StoreError, RassegnaError) as exc:
            # A database that went away (a restart) is reconnected by the next tick.
            log.error("tick failed: %s", exc.message)
        except Exception:
            log.exception("tick failed")
        finally:
            # A tick that ingested or built allocates and frees a lot; between ticks the
            # daemon only waits, so the freed heap goes back to the system.
            trim_heap()
            self._tick_finished = time.monotonic()
            took = self._tick_finished - self._tick_started
            self.metrics.tick_seconds.observe(took)
            self._overruns.finished(took, self.tick_seconds(), self._tick_finished)
            self._tick_started = None
            self.notifier.status(self.status_line())

    def housekeeping(self, now: datetime | None = None) -> int:
        """Nightly: retention (never what a published feed still shows), then database
        upkeep. Returns how many articles were deleted."""
        output = self.settings.output
        deleted = 0
        if output.keep_days or output.max_per_source:
            now = now or datetime.now(UTC)
            with self._cycle_lock:  # not while a tick is storing or building
                shown = shown_article_ids(self.store, site_info(self.settings))
                deleted = self.store.prune(
                    older_than=now - timedelta(days=output.keep_days) if output.keep_days else None,
                    keep_per_source=output.max_per_source or None,
                    protect=shown,
                )
            log.info("housekeeping: %d old articles deleted", deleted)
        self.store.optimize()
        return deleted

    def _housekeeping_job(self) -> None:
        try:
            self.housekeeping()
        except StoreError as exc:
            log.error("housekeeping failed: %s", exc.message)

    def tick_seconds(self) -> int:
        # An adaptive source may be due as soon as `scheduler.min_interval` after a poll.
        intervals = [
            self.settings.scheduler.min_interval
            if self.settings.is_adaptive(s)
            else self.settings.interval_of(s)
            for s in self.settings.sources
        ] or [self.settings.scheduler.interval]
        # A quarter of the shortest interval: a source is picked up soon after it is due,
        # not a whole interval late.
        return max(1, min(min(intervals) // 4, MAX_TICK_SECONDS))

    def status_line(self) -> str:
        sources = [s for s in self.settings.sources if s.enabled]
        try:
            due = self.store.next_due([s.name for s in sources]) if sources else None
        except StoreError:
            return f"{len(sources)} sources, database unreachable"
        if due is not None:
            wait = max(0, int((due - datetime.now(UTC)).total_seconds()))
            upcoming = f"next poll in {wait}s"
        else:
            upcoming = "first poll running"
        return f"{len(sources)} sources, {upcoming}, {self._last_errors} errors"

    # -- health --------------------------------------------------------------------------

    def _hang_seconds(self) -> float:
        return max(MIN_HANG_SECONDS, 10 * self.tick_seconds())

    def ticking(self) -> tuple[bool, str]:
        """Whether the scheduler is alive: a tick finished recently, or one is running and
        not hung."""
        now = time.monotonic()
        window = 2 * self.tick_seconds()
        started = self._tick_started
        if started is not None and now - started < self._hang_seconds():
            return True, f"tick running for {now - started:.0f}s"
        if started is not None:
            return False, f"tick running for {now - started:.0f}s, longer than it should"
        finished = self._tick_finished
        if finished is None:
            if now - self._started < max(window, 60):
                return True, "starting"
            return False, "no tick has run yet"
        if now - finished <= window + 5:
            return True, f"last tick {now - finished:.0f}s ago"
        return False, f"last tick {now - finished:.0f}s ago (expected every {self.tick_seconds()}s)"

    def health(self) -> tuple[bool, dict[str, object]]:
        ok, scheduler = self.ticking()
        database = "ok"
        try:
            self.store.ping()
        except StoreError as exc:
            ok, database = False, exc.message
        return ok, {"scheduler": scheduler, "database": database, "errors": self._last_errors}

    # -- the long run --------------------------------------------------------------------

    def run(self, *, once: bool = False) -> CycleReport | None:
        """One full cycle with `once`; otherwise tick until SIGINT or SIGTERM."""
        with make_fetcher(self.settings) as fetcher, draft_pool(self.settings) as drafts:
            self._fetcher, self._drafts = fetcher, drafts
            try:
                if once:
                    return self.cycle(everything=True, force_build=True)
                with DaemonLock(self.settings.database_url):
                    limit_malloc_arenas()  # before the worker threads exist
                    self.sync_sources()
                    self._pool_size = self.settings.scheduler.workers
                    self._pool = ThreadPoolExecutor(self._pool_size, thread_name_prefix="ingest")
                    try:
                        self._run_forever()
                    finally:
                        self._pool.shutdown(wait=True)
                        self._pool = None
                        self._release_claims()
            finally:
                self._fetcher, self._drafts = None, None
        return None

    def _run_forever(self) -> None:
        scheduler = BackgroundScheduler(timezone=UTC)
        self._scheduler = scheduler
        # A tick longer than its interval is reported once by `TickOverruns`, not by
        # APScheduler at every skipped tick.
        scheduler_log = logging.getLogger("apscheduler.scheduler")
        scheduler_log.addFilter(self._overruns)
        scheduler.add_listener(self._overruns.on_skip, EVENT_JOB_MAX_INSTANCES)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.tick_seconds(),
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            id="tick",
        )
        scheduler.add_job(
            self._housekeeping_job,
            "cron",
            hour=HOUSEKEEPING_HOUR,
            minute=30,
            timezone=ZoneInfo(self.settings.site.timezone),
            id="housekeeping",
            coalesce=True,
        )
        server = self._start_server()
        previous = install_signals(self._stop, self._reload_requested, self._wake)
        watcher = threading.Thread(target=self._watch_files, name="watch", daemon=True)
        heartbeat_stop = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat_loop, args=(heartbeat_stop,), name="heartbeat", daemon=True
        )
        try:
            heartbeat.start()
            scheduler.start()
            watcher.start()
            self.notifier.ready(f"{len(self.settings.sources)} sources, first poll running")
            log.info(
                "running: %d sources, tick every %ds",
                len(self.settings.sources),
                self.tick_seconds(),
            )
            self._main_loop()
        finally:
            self.notifier.stopping()
            log.info("stopping: waiting for running ingests to finish")
            self._stop.set()
            scheduler.shutdown(wait=True)  # the running tick's ingests finish first
            heartbeat_stop.set()
            heartbeat.join(5)
            if server is not None:
                server.stop()
            watcher.join(5)
            restore_signals(previous)
            scheduler_log.removeFilter(self._overruns)
            log.info("stopped")

    def heartbeat(self) -> list[str]:
        """Renew the leases of the claims this daemon still works on (claimed, not yet
        ingested); returns the names renewed. A failure is logged: the claims then
        expire with their lease, as a dead daemon's would."""
        with self._held_lock:
            held = set(self._held)
        if not held:
            return []
        try:
            return self.store.renew_claims(
                self.owner, held, lease_seconds=self.settings.scheduler.lease
            )
        except StoreError as exc:
            log.warning("could not renew %d claims: %s", len(held), exc.message)
            return []

    def _heartbeat_loop(self, stop: threading.Event) -> None:
        """Renew the leases every third of a lease, so two missed renewals (a database
        hiccup, a loaded machine) still leave a claim alive."""
        while not stop.wait(self.settings.scheduler.lease / 3):
            self.heartbeat()

    def _release_claims(self) -> None:
        """Give our claims back at shutdown; if the database is away they simply expire."""
        try:
            self.store.release_claims(self.owner)
        except StoreError as exc:
            log.warning("could not release claims (%s); they expire with their lease", exc.message)

    def _start_server(self) -> BackgroundServer | None:
        server_config = self.settings.server
        if not server_config.enabled:
            return None
        from rassegna.server import BackgroundServer, app_for
        from rassegna.status import StatusPage

        app = app_for(
            self.settings,
            health=self.health,
            metrics=self.metrics.render,
            search=search_feed(self.settings, self.store),
            status=StatusPage(self.settings, self.store),
        )
        server = BackgroundServer(app, server_config.host, server_config.port)
        server.start()
        log.info(
            "serving %s on http://%s:%d/",
            self.settings.output.dir,
            server_config.host,
            server_config.port,
        )
        return server

    def _main_loop(self) -> None:
        ping_every = self.notifier.watchdog_interval
        wait = min(ping_every, 5.0) if ping_every else 5.0
        while not self._stop.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                break
            if self._reload_requested.is_set():
                self._reload_requested.clear()
                self.reload()
            if ping_every:
                alive, why = self.ticking()
                if alive and self._scheduler is not None and self._scheduler.running:
                    self.notifier.watchdog()
                else:
                    log.error("scheduler looks hung (%s): not feeding the watchdog", why)

    def reload(self) -> bool:
        """Re-read the configuration; a broken one is logged and the old one stays."""
        if self.config_path is None:
            log.warning("reload: no configuration file to re-read")
            return False
        self.notifier.reloading()
        try:
            new = load_settings(self.config_path)
        except RassegnaError as exc:
            log.error("reload: %s; keeping the previous configuration", exc.message)
            self.notifier.ready(self.status_line())
            return False
        kept = ("server", "database", "ingest")
        if any(getattr(new, key) != getattr(self.settings, key) for key in kept):
            log.warning("reload: [server], [database] and [ingest] changes need a restart")
        self.settings = new.model_copy(update={key: getattr(self.settings, key) for key in kept})
        if self._scheduler is not None:
            self._scheduler.reschedule_job("tick", trigger="interval", seconds=self.tick_seconds())
        try:
            self.sync_sources()
        except StoreError as exc:
            log.error("reload: %s", exc.message)
        log.info("reload: configuration re-read, %d sources", len(new.sources))
        self.notifier.ready(self.status_line())
        return True

    def _watch_files(self) -> None:
        """Ingest a files source as soon as its folder changes, not at the next interval."""
        watch_folders(lambda: self.settings, self._stop, lambda names: self.cycle(only=names))
