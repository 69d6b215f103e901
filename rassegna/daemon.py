"""The daemon: APScheduler fires a short tick that ingests the sources that are due, in a
bounded worker pool, and rebuilds the feeds when anything changed. The schedule itself
(when each source is next due) lives in the database, so a restart resumes it."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from db.store import Store
from feeds.errors import FeedError
from ingest.pipeline import IngestReport
from rassegna.config import Settings, SourceConfig
from rassegna.operations import build, ingest_source
from rassegna.server import create_app, serve_forever

log = logging.getLogger("rassegna.daemon")

MAX_TICK_SECONDS = 30


@dataclass(slots=True)
class CycleReport:
    reports: list[IngestReport] = field(default_factory=list)
    built: bool = False
    written: int = 0

    @property
    def errors(self) -> int:
        return sum(1 for r in self.reports if not r.ok)


class Daemon:
    """Runs ingest cycles on schedule and, when enabled, the HTTP server."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def due_sources(self, now: datetime | None = None) -> list[SourceConfig]:
        now = now or datetime.now(UTC)
        next_due = {s.name: s.next_due for s in self.store.source_states()}
        return [
            s
            for s in self.settings.sources
            if s.enabled and ((due := next_due.get(s.name)) is None or due <= now)
        ]

    def cycle(self, *, everything: bool = False, force_build: bool = False) -> CycleReport:
        """Ingest the due sources (all of them with `everything`), then build if needed."""
        with self._lock:  # a tick never overlaps the previous one
            report = CycleReport()
            sources = (
                [s for s in self.settings.sources if s.enabled]
                if everything
                else self.due_sources()
            )
            if sources:
                with ThreadPoolExecutor(self.settings.scheduler.workers) as pool:
                    report.reports = list(
                        pool.map(lambda s: ingest_source(self.settings, self.store, s), sources)
                    )
            if force_build or any(r.stored for r in report.reports):
                try:
                    built = build(self.settings, self.store)
                    report.built = True
                    report.written = len(built.written)
                except FeedError as exc:
                    log.error("%s", exc.message)
            if sources:
                log.info(
                    "cycle: %d sources, %d new, %d changed, %d errors, %d feed files written",
                    len(sources),
                    sum(r.new for r in report.reports),
                    sum(r.changed for r in report.reports),
                    report.errors,
                    report.written,
                )
            return report

    def tick_seconds(self) -> int:
        intervals = [self.settings.interval_of(s) for s in self.settings.sources] or [
            self.settings.scheduler.interval
        ]
        return max(1, min([*intervals, MAX_TICK_SECONDS]))

    def run(self, *, once: bool = False) -> CycleReport:
        """One full cycle; then, unless `once`, keep ticking until SIGINT or SIGTERM."""
        first = self.cycle(everything=True, force_build=True)
        if once:
            return first
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(
            self.cycle,
            "interval",
            seconds=self.tick_seconds(),
            max_instances=1,
            coalesce=True,
            id="tick",
        )
        scheduler.start()
        try:
            if self.settings.server.enabled:
                self._serve()
            else:
                self._wait_for_signal()
        finally:
            log.info("stopping")
            scheduler.shutdown(wait=True)
        return first

    def _serve(self) -> None:
        server = self.settings.server
        app = create_app(
            self.settings.output.dir, max_age=min(self.settings.scheduler.interval, 3600)
        )
        log.info("serving %s on http://%s:%d/", self.settings.output.dir, server.host, server.port)
        serve_forever(app, server.host, server.port)

    def _wait_for_signal(self) -> None:
        def stop(_signum: int, _frame: FrameType | None) -> None:
            self._stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self._stop.wait()
