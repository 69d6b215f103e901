"""Activity counters and build records for the status page.

Each source has a row per hour (span "h") and per day (span "d") in which it stored
articles or was fetched: articles stored, fetches that brought new content (200), that
found nothing new (304) and that failed. They are added to in the transaction that
records the event, so the status page reads at most a few rows per source and never
counts articles. Rows older than `KEEP` are pruned with the database's upkeep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select

from db import models
from db.tables import dialect_insert, rowcount

COUNTERS = cast(Table, models.Counter.__table__)
BUILDS = cast(Table, models.Build.__table__)

HOUR = "h"
DAY = "d"
KEEP = timedelta(days=90)
"""How long counter rows are kept."""
BUILDS_KEPT = 200
"""How many build records are kept."""
FETCH_COLUMNS = ("fetch_new", "fetch_same", "fetch_error")


@dataclass(frozen=True, slots=True)
class CounterRow:
    """One source's counts in one hour or day (`bucket` is its start, UTC)."""

    source_id: int
    bucket: datetime
    stored: int = 0
    fetch_new: int = 0
    fetch_same: int = 0
    fetch_error: int = 0


@dataclass(frozen=True, slots=True)
class BuildRecord:
    """One build: when it started, how long it took and what it wrote."""

    started: datetime
    seconds: float
    written: int
    unchanged: int
    removed: int
    feeds: int


def hour_of(when: datetime) -> datetime:
    """The start of the UTC hour holding `when`."""
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(when: datetime) -> datetime:
    """The start of the UTC day holding `when`."""
    return hour_of(when).replace(hour=0)


def add(connection: Connection, source_id: int, when: datetime, **counts: int) -> None:
    """Add `counts` (column name → amount) to the source's hour and day of `when`."""
    values = {k: v for k, v in counts.items() if v}
    if not values:
        return
    for span, bucket in ((HOUR, hour_of(when)), (DAY, day_of(when))):
        statement = dialect_insert(connection, COUNTERS).values(
            source_id=source_id, span=span, bucket=bucket, **values
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["source_id", "span", "bucket"],
                set_={k: COUNTERS.c[k] + statement.excluded[k] for k in values},
            )
        )


def fetch_column(kind: str) -> str:
    """The counter a fetch outcome (`db.records.FetchKind` value) adds to."""
    if kind == "ok":
        return "fetch_new"
    if kind == "not_modified":
        return "fetch_same"
    return "fetch_error"


def rows(engine: Engine, span: str, since: datetime) -> list[CounterRow]:
    """Every source's counter rows of `span` from `since` on (an index range)."""
    c = COUNTERS.c
    query = select(c.source_id, c.bucket, c.stored, c.fetch_new, c.fetch_same, c.fetch_error).where(
        c.span == span, c.bucket >= since
    )
    with engine.connect() as connection:
        return [
            CounterRow(r.source_id, r.bucket, r.stored, r.fetch_new, r.fetch_same, r.fetch_error)
            for r in connection.execute(query)
        ]


def stored_since(connection: Connection, source_id: int, since: datetime) -> int:
    """Articles the source stored in the days from `since` on (day rows)."""
    c = COUNTERS.c
    total = connection.execute(
        select(func.coalesce(func.sum(c.stored), 0)).where(
            c.source_id == source_id, c.span == DAY, c.bucket >= day_of(since)
        )
    ).scalar()
    return int(total or 0)


def prune(engine: Engine, now: datetime) -> int:
    """Drop counter rows older than `KEEP` and all but the last `BUILDS_KEPT` builds."""
    with engine.begin() as connection:
        gone = rowcount(connection.execute(delete(COUNTERS).where(COUNTERS.c.bucket < now - KEEP)))
        cutoff = connection.execute(
            select(BUILDS.c.id).order_by(BUILDS.c.id.desc()).offset(BUILDS_KEPT).limit(1)
        ).scalar()
        if cutoff is not None:
            connection.execute(delete(BUILDS).where(BUILDS.c.id <= cutoff))
    return gone


def record_build(engine: Engine, build: BuildRecord) -> None:
    """Remember one build."""
    with engine.begin() as connection:
        connection.execute(
            insert(BUILDS).values(
                started=build.started,
                seconds=build.seconds,
                written=build.written,
                unchanged=build.unchanged,
                removed=build.removed,
                feeds=build.feeds,
            )
        )


def last_builds(engine: Engine, limit: int = 10) -> Sequence[BuildRecord]:
    """The newest builds, newest first."""
    b = BUILDS.c
    query = select(b.started, b.seconds, b.written, b.unchanged, b.removed, b.feeds)
    with engine.connect() as connection:
        return [
            BuildRecord(r.started, r.seconds, r.written, r.unchanged, r.removed, r.feeds)
            for r in connection.execute(query.order_by(b.id.desc()).limit(limit))
        ]
