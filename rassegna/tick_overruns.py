"""Ticks that take longer than their interval: APScheduler skips the ticks due meanwhile
and would log a line for each; `TickOverruns` counts them and warns once instead."""

from __future__ import annotations

import logging
import threading

from apscheduler.events import JobSubmissionEvent

# The daemon's own log: these warnings are about its ticks.
log = logging.getLogger("rassegna.daemon")

# A daemon that keeps overrunning its tick says so once, then folds the next overruns of
# this period into its following warning: a line per tick would drown the log.
OVERRUN_WARN_EVERY = 600


class TickOverruns(logging.Filter):
    """Counts the ticks APScheduler skips while one is still running, keeps its own
    warning about them out of the log (a line per skipped tick, each second with a short
    tick), and warns instead once per overrunning tick, at most once per `every` seconds."""

    def __init__(self, every: float = OVERRUN_WARN_EVERY) -> None:
        super().__init__()
        self.every = every
        self._lock = threading.Lock()
        self._skipped = 0
        self._warned_at: float | None = None
        self._folded = 0
        self._longest_folded = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop APScheduler's "maximum number of running instances reached" line."""
        return "maximum number of running instances" not in str(record.msg)

    def on_skip(self, event: JobSubmissionEvent) -> None:
        """Scheduler listener: the tick was due but the previous one still runs."""
        if event.job_id == "tick":
            with self._lock:
                self._skipped += 1

    def finished(self, took: float, interval: int, now: float) -> None:
        """A tick ended after `took` seconds: warn if it overran its `interval`."""
        with self._lock:
            skipped, self._skipped = self._skipped, 0
        if took <= interval:
            return
        if self._warned_at is not None and now - self._warned_at < self.every:
            self._folded += 1
            self._longest_folded = max(self._longest_folded, took)
            return
        folded = ""
        if self._folded:
            folded = (
                f"; {self._folded} more overran since the last such warning, "
                f"the longest {self._longest_folded:.1f}s"
            )
        log.warning(
            "tick took %.1fs, longer than its %ds interval (%d ticks skipped)%s",
            took,
            interval,
            skipped,
            folded,
        )
        self._warned_at = now
        self._folded = 0
        self._longest_folded = 0.0
