"""The operator's status: what each source is doing and how much arrives.

`collect` gathers it from the store (the sources' rows, their article counts and the
activity counters of `db.counters`, never a scan of the articles' texts) and from a walk
of the output folder (cached for `DISK_TTL`); `render_html` draws the `/stato` page
(Italian, SVG charts drawn here, no script), `as_json` the `rassegna status --json` form.
The page shows error texts and source URLs: it is served by the daemon, never published.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import get_month_names
from jinja2 import Environment, PackageLoader, select_autoescape

from db import counters
from db.counters import BuildRecord, CounterTuple
from db.records import SourceState
from db.schedule import IntervalChoice, interval_in_force
from db.store import Store
from rassegna import charts
from rassegna.config import Settings

DAYS = 30
HOURS = 24
WEEK_HOURS = 7 * 24
_EMPTY: CounterTuple = (0, 0, 0, 0, 0, 0)
DISK_TTL = 300.0
"""Seconds a walk of the output folder stays good: with many pages it is the slow part."""

STATE_LABELS = {
    "gone": "sparita (410)",
    "throttled": "bloccata (429/503)",
    "backoff": "in backoff",
    "ok": "ok",
    "disabled": "disattivata",
}
STATE_ORDER = {"gone": 0, "throttled": 1, "backoff": 2, "ok": 3, "disabled": 4}
REASON_LABELS = {
    "configured": "configurato",
    "adaptive": "adattivo",
    "server": "chiesto dal server",
    "retry-after": "Retry-After",
}


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One source on the status page."""

    name: str
    kind: str
    location: str
    state: str
    last_success: datetime | None
    last_error: str | None
    next_due: datetime | None
    interval_seconds: int
    interval_reason: str
    articles: int
    per_day: tuple[int, ...]  # articles stored per day, oldest first, today last
    outcomes: tuple[tuple[int, int, int], ...]  # (new, 304, error) per hour, oldest first


@dataclass(frozen=True, slots=True)
class OutputUsage:
    """What the output folder holds."""

    feeds: int = 0
    pages: int = 0
    files: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything the status page and `rassegna status` show."""

    generated: datetime
    sources: tuple[SourceStatus, ...]
    per_hour: tuple[int, ...]  # articles stored per hour over seven days, oldest first
    builds: tuple[BuildRecord, ...]
    output: OutputUsage
    total_articles: int = field(default=0)


def state_of(source: SourceState, enabled: bool, now: datetime) -> str:
    """ok, backoff, gone, throttled (a 429/503 Retry-After still running) or disabled."""
    if not enabled:
        return "disabled"
    if source.gone:
        return "gone"
    if source.retry_after is not None and source.retry_after > now:
        return "throttled"
    if source.consecutive_errors > 0:
        return "backoff"
    return "ok"


def interval_of(source: SourceState) -> IntervalChoice:
    """The interval the source's last poll chose and why; before any poll, the one its
    settings give with nothing known of the server or of how often it publishes."""
    if source.interval_used is not None and source.interval_reason:
        return IntervalChoice(source.interval_used, source.interval_reason)
    return interval_in_force(
        source.interval_seconds,
        source.min_interval_seconds,
        auto=source.interval_auto,
        min_seconds=source.interval_min,
        max_seconds=source.interval_max,
    )


def walk_output(root: Path) -> OutputUsage:
    """Count the feeds (`rss.xml`), pages (`index.html`), files and bytes under `root`."""
    feeds = pages = files = size = 0
    stack = [str(root)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                try:
                    size += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
                files += 1
                if entry.name == "rss.xml":
                    feeds += 1
                elif entry.name == "index.html":
                    pages += 1
    return OutputUsage(feeds=feeds, pages=pages, files=files, bytes=size)


class OutputMeter:
    """`walk_output` of one folder, walked again at most every `ttl` seconds."""

    def __init__(self, root: Path, ttl: float = DISK_TTL) -> None:
        self.root = root
        self.ttl = ttl
        self._lock = threading.Lock()
        self._taken = float("-inf")
        self._usage = OutputUsage()

    def usage(self) -> OutputUsage:
        with self._lock:
            if time.monotonic() - self._taken > self.ttl:
                self._usage = walk_output(self.root)
                self._taken = time.monotonic()
            return self._usage


def _series(rows: Sequence[CounterTuple], start: int, n: int) -> dict[int, list[CounterTuple]]:
    """Each source's rows placed in `n` slots from bucket `start` (`_EMPTY` where none)."""
    out: dict[int, list[CounterTuple]] = {}
    for row in rows:
        slot = row[1] - start
        if 0 <= slot < n:
            series = out.get(row[0])
            if series is None:
                series = out[row[0]] = [_EMPTY] * n
            series[slot] = row
    return out


def collect(
    settings: Settings,
    store: Store,
    *,
    now: datetime | None = None,
    meter: OutputMeter | None = None,
) -> StatusReport:
    """The status of every stored source, failing ones first, and the totals."""
    now = now or datetime.now(UTC)
    day_start = counters.day_of(now) - (DAYS - 1)
    hour_start = counters.hour_of(now) - (HOURS - 1)
    week_start = counters.hour_of(now) - (WEEK_HOURS - 1)
    days = _series(store.counter_rows(counters.DAY, day_start), day_start, DAYS)
    hours = _series(store.counter_rows(counters.HOUR, hour_start), hour_start, HOURS)
    stored = store.stored_per_bucket(counters.HOUR, week_start)
    per_hour = [stored.get(week_start + i, 0) for i in range(WEEK_HOURS)]
    configured = {s.name: s for s in settings.sources}
    statuses: list[SourceStatus] = []
    no_days, no_hours = [_EMPTY] * DAYS, [_EMPTY] * HOURS
    for source in store.source_states(exact_counts=False):
        config = configured.get(source.name)
        day_rows = days.get(source.id, no_days)
        choice = interval_of(source)
        reason = choice.reason
        if source.retry_after is not None and source.retry_after > now:
            reason = "retry-after"
        statuses.append(
            SourceStatus(
                name=source.name,
                kind=source.kind,
                location=source.fetch_url or source.location,
                state=state_of(source, config is not None and config.enabled, now),
                last_success=source.last_success,
                last_error=source.last_error,
                next_due=source.next_due,
                interval_seconds=choice.seconds,
                interval_reason=reason,
                articles=source.article_count,
                per_day=tuple(r[2] for r in day_rows),
                outcomes=tuple((r[3], r[4], r[5]) for r in hours.get(source.id, no_hours)),
            )
        )
    statuses.sort(key=lambda s: (STATE_ORDER[s.state], s.name.casefold()))
    return StatusReport(
        generated=now,
        sources=tuple(statuses),
        per_hour=tuple(per_hour),
        builds=tuple(store.last_builds(10)),
        output=(meter or OutputMeter(settings.output.dir, ttl=0)).usage(),
        total_articles=sum(s.articles for s in statuses),
    )


def as_json(report: StatusReport) -> dict[str, Any]:
    """The report as plain JSON values (dates in ISO 8601)."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    data = plain(asdict(report))
    assert isinstance(data, dict)
    return data


def duration_text(seconds: int) -> str:
    """`90` → "1 min 30 s", `7200` → "2 h"."""
    parts: list[str] = []
    for unit, size in (("g", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts[:2]) or "0 s"


def size_text(n: int) -> str:
    """Bytes in B, KB, MB or GB (powers of 1024, one decimal)."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


class StatusPage:
    """The `/stato` page of one configuration and store: `__call__` renders it."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.meter = OutputMeter(settings.output.dir)
        self.zone = ZoneInfo(settings.site.timezone)
        # Italian month abbreviations, looked up once (Babel per date costs more than
        # the rest of a row).
        self.months = dict(get_month_names("abbreviated", locale="it_IT"))
        self.env = Environment(
            loader=PackageLoader("rassegna", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = self._when
        self.env.filters["duration"] = duration_text
        self.env.filters["size"] = size_text
        self.template = self.env.get_template("stato.html")

    def _when(self, moment: datetime | None) -> str:
        if moment is None:
            return "mai"
        if moment.year >= 9999:
            return "mai più"
        local = moment.astimezone(self.zone)
        return f"{local.day} {self.months[local.month]} {local.year}, {local:%H:%M}"

    def __call__(self) -> bytes:
        report = collect(self.settings, self.store, meter=self.meter)
        return render_html(self, report).encode("utf-8")


def render_html(page: StatusPage, report: StatusReport) -> str:
    """The page for `report`."""
    labels = []
    for i in range(0, WEEK_HOURS, 24):
        start = report.generated - timedelta(hours=WEEK_HOURS - 1 - i)
        labels.append((i, page._when(start).rsplit(",", 1)[0]))
    per_hour = charts.bar_chart(
        report.per_hour,
        "Articoli salvati per ora negli ultimi 7 giorni: "
        f"{sum(report.per_hour)} in tutto, al massimo {max(report.per_hour, default=0)} in un'ora",
        labels,
    )
    rows = []
    for s in report.sources:
        spark = charts.sparkline(
            s.per_day,
            f"Articoli al giorno di {s.name} negli ultimi {DAYS} giorni, dal più vecchio: "
            + ", ".join(str(v) for v in s.per_day),
        )
        new, same, error = (sum(o[i] for o in s.outcomes) for i in range(3))
        bars = charts.outcome_bars(
            s.outcomes,
            f"Letture di {s.name} nelle ultime {HOURS} ore: {new} con novità, "
            f"{same} senza novità (304), {error} con errore",
        )
        rows.append({"s": s, "spark": spark, "bars": bars, "fetches": (new, same, error)})
    failing = sum(1 for s in report.sources if s.state in ("gone", "throttled", "backoff"))
    return page.template.render(
        report=report,
        rows=rows,
        per_hour=per_hour,
        failing=failing,
        states=STATE_LABELS,
        reasons=REASON_LABELS,
        site_title=page.settings.site.title,
        generated=page._when(report.generated),
        days=DAYS,
        hours=HOURS,
    )
