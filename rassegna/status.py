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
from markupsafe import Markup

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
_NO_DAYS = (_EMPTY,) * DAYS
_NO_HOURS = (_EMPTY,) * HOURS
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
    interval_reason: str  # configured, adaptive, "server: <header>" or retry-after
    articles: int
    per_day: tuple[int, ...]  # articles stored per day, oldest first, today last
    outcomes: tuple[tuple[int, int, int], ...]  # (new, 304, error) per hour, oldest first
    slug: str = ""


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
        origin = source.min_interval_origin if source.interval_reason == "server" else None
        return IntervalChoice(source.interval_used, source.interval_reason, origin)
    return interval_in_force(
        source.interval_seconds,
        source.min_interval_seconds,
        auto=source.interval_auto,
        min_seconds=source.interval_min,
        max_seconds=source.interval_max,
        origin=source.min_interval_origin,
    )


def reason_text(why: str) -> str:
    """An interval's reason (`IntervalChoice.why`, or "retry-after") in Italian, the
    header's name kept as the server sent it: "chiesto dal server: Expires"."""
    kind, _, origin = why.partition(": ")
    label = REASON_LABELS.get(kind, kind)
    return f"{label}: {origin}" if origin else label


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


Activity = tuple[dict[int, list[CounterTuple]], dict[int, list[CounterTuple]]]
"""Counter rows by source id: the last `DAYS` days and the last `HOURS` hours."""


def _activity(store: Store, now: datetime, source_ids: Sequence[int] | None) -> Activity:
    """The day and hour rows of every source (or of `source_ids`) the page plots."""
    day_start = counters.day_of(now) - (DAYS - 1)
    hour_start = counters.hour_of(now) - (HOURS - 1)
    return (
        _series(store.counter_rows(counters.DAY, day_start, source_ids), day_start, DAYS),
        _series(store.counter_rows(counters.HOUR, hour_start, source_ids), hour_start, HOURS),
    )


def source_status(
    source: SourceState, enabled: bool, now: datetime, activity: Activity
) -> SourceStatus:
    """One source's line: its row, its interval and its plotted counters."""
    choice = interval_of(source)
    reason = choice.why
    if source.retry_after is not None and source.retry_after > now:
        reason = "retry-after"
    return SourceStatus(
        name=source.name,
        kind=source.kind,
        location=source.fetch_url or source.location,
        state=state_of(source, enabled, now),
        last_success=source.last_success,
        last_error=source.last_error,
        next_due=source.next_due,
        interval_seconds=choice.seconds,
        interval_reason=reason,
        articles=source.article_count,
        per_day=tuple(r[2] for r in activity[0].get(source.id, _NO_DAYS)),
        outcomes=tuple((r[3], r[4], r[5]) for r in activity[1].get(source.id, _NO_HOURS)),
        slug=source.slug,
    )


def order_key(status: SourceStatus) -> tuple[int, str]:
    """Failing sources first (the worst state first), then by name."""
    return (STATE_ORDER[status.state], status.name.casefold())


def enabled_names(settings: Settings) -> frozenset[str]:
    """The sources the configuration lists and has not turned off."""
    return frozenset(s.name for s in settings.sources if s.enabled)


def report_of(
    store: Store, now: datetime, statuses: Sequence[SourceStatus], meter: OutputMeter
) -> StatusReport:
    """The report around `statuses` (already in page order): the totals and the builds."""
    week_start = counters.hour_of(now) - (WEEK_HOURS - 1)
    stored = store.stored_per_bucket(counters.HOUR, week_start)
    return StatusReport(
        generated=now,
        sources=tuple(statuses),
        per_hour=tuple(stored.get(week_start + i, 0) for i in range(WEEK_HOURS)),
        builds=tuple(store.last_builds(10)),
        output=meter.usage(),
        total_articles=sum(s.articles for s in statuses),
    )


def collect(
    settings: Settings,
    store: Store,
    *,
    now: datetime | None = None,
    meter: OutputMeter | None = None,
) -> StatusReport:
    """The status of every stored source, failing ones first, and the totals."""
    now = now or datetime.now(UTC)
    enabled = enabled_names(settings)
    activity = _activity(store, now, None)
    statuses = [
        source_status(source, source.name in enabled, now, activity)
        for source in store.source_states(exact_counts=False)
    ]
    statuses.sort(key=order_key)
    return report_of(store, now, statuses, meter or OutputMeter(settings.output.dir, ttl=0))


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


@dataclass(frozen=True, slots=True)
class DrawnRow:
    """A source's row of the page as drawn, and what it was drawn from (`key`)."""

    key: tuple[object, ...]
    status: SourceStatus
    html: Markup


class StatusPage:
    """The `/stato` page of one configuration and store: `__call__` renders it.

    Each source's row (its charts above all) is drawn once and kept until the source
    changes: its row in the store (every fetch writes it; every store or delete of
    articles moves its total), its counters of the current hour, or the hour itself
    (the charts' windows move). A request then reads the sources' rows and one hour of
    counters, and draws only the rows that changed.
    """

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.meter = OutputMeter(settings.output.dir)
        self.zone = ZoneInfo(settings.site.timezone)
        self.enabled = enabled_names(settings)
        # Italian month abbreviations, looked up once (Babel per date costs more than
        # the rest of a row).
        self.months = dict(get_month_names("abbreviated", locale="it_IT"))
        self.env = Environment(
            loader=PackageLoader("rassegna", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = self._when
        self.env.filters["duration"] = duration_text
        self.env.filters["size"] = size_text
        self.env.filters["reason"] = reason_text
        self.template = self.env.get_template("stato.html")
        self.row_template = self.env.get_template("stato_fonte.html")
        self._lock = threading.Lock()
        self._hour = -1
        self._drawn: dict[int, DrawnRow] = {}

    def _when(self, moment: datetime | None) -> str:
        if moment is None:
            return "mai"
        if moment.year >= 9999:
            return "mai più"
        local = moment.astimezone(self.zone)
        return f"{local.day} {self.months[local.month]} {local.year}, {local:%H:%M}"

    def __call__(self) -> bytes:
        with self._lock:
            now = datetime.now(UTC)
            rows = sorted(self._rows(now), key=lambda row: order_key(row.status))
            report = report_of(self.store, now, [row.status for row in rows], self.meter)
            return render_html(self, report, [row.html for row in rows]).encode("utf-8")

    def _rows(self, now: datetime) -> list[DrawnRow]:
        """Every stored source's row, drawn again only where it changed."""
        hour = counters.hour_of(now)
        if hour != self._hour:
            self._drawn, self._hour = {}, hour
        latest = {row[0]: row for row in self.store.counter_rows(counters.HOUR, hour)}
        sources = self.store.source_states(exact_counts=False)
        keys: dict[int, tuple[object, ...]] = {}
        stale: list[SourceState] = []
        for source in sources:
            throttled = source.retry_after is not None and source.retry_after > now
            key = keys[source.id] = (
                source,
                source.name in self.enabled,
                throttled,
                latest.get(source.id),
            )
            drawn = self._drawn.get(source.id)
            if drawn is None or drawn.key != key:
                stale.append(source)
        if stale:
            few = len(stale) * 2 <= len(sources)
            activity = _activity(self.store, now, [s.id for s in stale] if few else None)
            for source in stale:
                status = source_status(source, source.name in self.enabled, now, activity)
                self._drawn[source.id] = DrawnRow(keys[source.id], status, draw_row(self, status))
        if len(self._drawn) != len(sources):
            self._drawn = {s.id: self._drawn[s.id] for s in sources}
        return [self._drawn[s.id] for s in sources]


def draw_row(page: StatusPage, s: SourceStatus) -> Markup:
    """One source's table row, its two charts included."""
    values = ", ".join(map(str, s.per_day))
    spark = charts.sparkline(
        s.per_day,
        f"Articoli al giorno di {s.name} negli ultimi {DAYS} giorni, dal più vecchio: {values}",
    )
    new = same = error = 0
    for n, m, e in s.outcomes:
        new, same, error = new + n, same + m, error + e
    bars = charts.outcome_bars(
        s.outcomes,
        f"Letture di {s.name} nelle ultime {HOURS} ore: {new} con novità, "
        f"{same} senza novità (304), {error} con errore",
    )
    return Markup(  # noqa: S704 - the template escapes every value it puts in
        page.row_template.render(s=s, spark=spark, bars=bars, states=STATE_LABELS)
    )


def render_html(page: StatusPage, report: StatusReport, rows: Sequence[Markup]) -> str:
    """The page for `report`, with the sources' `rows` (`draw_row`) in its order."""
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
    failing = sum(1 for s in report.sources if s.state in ("gone", "throttled", "backoff"))
    return page.template.render(
        report=report,
        rows=Markup("\n").join(rows),
        per_hour=per_hour,
        failing=failing,
        site_title=page.settings.site.title,
        generated=page._when(report.generated),
        days=DAYS,
        hours=HOURS,
    )
