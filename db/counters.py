"""Activity counters and build records for the status page.

Each source has a row per hour (span "h") and per day (span "d") in which it stored
articles or was fetched: articles stored, fetches that brought new content (200), that
found nothing new (304) and that failed; `counter_totals` adds up the articles of all
sources per hour and day. They are added to in the transaction that
records the event, so the status page reads at most a few rows per source and never
counts articles. Rows older than `KEEP` are pruned with the database's upkeep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import cast

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from db.records import picked
from db.tables import BUILDS, COUNTERS, chunks, insert_of, rowcount
from db.tables import COUNTER_TOTALS as TOTALS

HOUR = "h"
DAY = "d"
TOTAL = "t"
"""A source's one row (bucket 0) of articles held now: added to on store, taken from on
delete, never pruned."""
KEEP = timedelta(days=90)
"""How long counter rows are kept."""
BUILDS_KEPT = 200
"""How many build records are kept."""
FETCH_COLUMNS = ("fetch_new", "fetch_same", "fetch_error")


@dataclass(frozen=True, slots=True)
class BuildRecord:
    """One build: when it started, how long it took and what it wrote."""

    started: datetime
    seconds: float
    written: int
    unchanged: int
    removed: int
    feeds: int


_BUILD_FIELDS = tuple(f.name for f in fields(BuildRecord))
"""A build's record and its row hold the same values under the same names."""


def hour_of(when: datetime) -> int:
    """The UTC hour holding `when`, counted from the Unix epoch (a bucket of span "h")."""
    return int(when.timestamp()) // 3600


def day_of(when: datetime) -> int:
    """The UTC day holding `when`, counted from the Unix epoch (a bucket of span "d")."""
    return int(when.timestamp()) // 86400


def bucket_start(span: str, bucket: int) -> datetime:
    """When a bucket begins."""
    return datetime.fromtimestamp(bucket * (3600 if span == HOUR else 86400), UTC)


def add(connection: Connection, source_id: int, when: datetime, **counts: int) -> None:
    """Add `counts` (column name → amount) to the source's hour and day of `when`; the
    articles stored go to its total and to the all-sources totals too."""
    values = {k: v for k, v in counts.items() if v}
    if not values:
        return
    stored = values.get("stored", 0)
    dialect = connection.dialect.name
    bump = _bump_statement(dialect, tuple(values))
    total = _total_statement(dialect)
    for span, bucket in ((HOUR, hour_of(when)), (DAY, day_of(when))):
        connection.execute(bump, {"source_id": source_id, "span": span, "bucket": bucket, **values})
        if stored:
            connection.execute(total, {"span": span, "bucket": bucket, "stored": stored})
    if stored:
        _bump_total(connection, source_id, stored)


@lru_cache(maxsize=32)
def _bump_statement(dialect: str, columns: tuple[str, ...]) -> postgresql.Insert | sqlite.Insert:
    """The upsert adding to `columns` of one source's counter row, its values bound by
    name (`source_id`, `span`, `bucket` and the columns): a handful of variants, each
    built once, since building one (its `excluded` alias above all) cost more than
    running it on every poll."""
    statement = insert_of(dialect, COUNTERS).values(
        {name: bindparam(name) for name in ("source_id", "span", "bucket", *columns)}
    )
    return statement.on_conflict_do_update(
        index_elements=["source_id", "span", "bucket"],
        set_={k: COUNTERS.c[k] + statement.excluded[k] for k in columns},
    )


@lru_cache(maxsize=4)
def _total_statement(dialect: str) -> postgresql.Insert | sqlite.Insert:
    """The upsert adding `stored` to the all-sources row of one bucket (built once)."""
    statement = insert_of(dialect, TOTALS).values(
        {name: bindparam(name) for name in ("span", "bucket", "stored")}
    )
    return statement.on_conflict_do_update(
        index_elements=["span", "bucket"],
        set_={"stored": TOTALS.c.stored + statement.excluded.stored},
    )


def _bump_total(connection: Connection, source_id: int, amount: int) -> None:
    connection.execute(
        _bump_statement(connection.dialect.name, ("stored",)),
        {"source_id": source_id, "span": TOTAL, "bucket": 0, "stored": amount},
    )


def forget(connection: Connection, removed: dict[int, int]) -> None:
    """Take deleted articles (count by source id) off their sources' totals."""
    c = COUNTERS.c
    for source_id, amount in removed.items():
        if amount:
            connection.execute(
                update(COUNTERS)
                .where(c.source_id == source_id, c.span == TOTAL, c.bucket == 0)
                .values(stored=c.stored - amount)
            )


def article_counts(engine: Engine) -> dict[int, int]:
    """Articles each source holds now, by source id (its `TOTAL` row)."""
    c = COUNTERS.c
    query = select(c.source_id, c.stored).where(c.span == TOTAL)
    with engine.connect() as connection:
        return {int(i): int(n) for i, n in connection.execute(query)}


def fetch_column(kind: str) -> str:
    """The counter a fetch outcome (`db.records.FetchKind` value) adds to."""
    if kind == "ok":
        return "fetch_new"
    if kind == "not_modified":
        return "fetch_same"
    return "fetch_error"


CounterTuple = tuple[int, int, int, int, int, int]
"""A counter row as read in bulk: source id, bucket, stored, new, 304, error."""


def rows(
    engine: Engine, span: str, since: int, source_ids: Sequence[int] | None = None
) -> list[CounterTuple]:
    """Every source's (or only `source_ids`') counter rows of `span` from bucket `since`
    on: ranges of a covering index, plain integer tuples (a page reads thousands)."""
    c = COUNTERS.c
    query = select(c.source_id, c.bucket, c.stored, c.fetch_new, c.fetch_same, c.fetch_error).where(
        c.span == span, c.bucket >= since
    )
    # The driver's own tuples (`CursorResult.cursor`): for thousands of plain integer
    # rows, building SQLAlchemy's Row objects costs more than the query itself.
    with engine.connect() as connection:
        if source_ids is None:
            return cast(list[CounterTuple], connection.execute(query).cursor.fetchall())
        found: list[CounterTuple] = []
        for chunk in chunks(sorted(source_ids)):
            found.extend(connection.execute(query.where(c.source_id.in_(chunk))).cursor.fetchall())
        return found


def stored_per_bucket(engine: Engine, span: str, since: int) -> dict[int, int]:
    """Articles all sources stored, by bucket of `span` from `since` on."""
    t = TOTALS.c
    query = select(t.bucket, t.stored).where(t.span == span, t.bucket >= since)
    with engine.connect() as connection:
        return {int(b): int(n) for b, n in connection.execute(query)}


def prune(engine: Engine, now: datetime) -> int:
    """Drop counter rows older than `KEEP` and all but the last `BUILDS_KEPT` builds."""
    c = COUNTERS.c
    old_hours = (c.span == HOUR) & (c.bucket < hour_of(now - KEEP))
    old_days = (c.span == DAY) & (c.bucket < day_of(now - KEEP))
    with engine.begin() as connection:
        gone = rowcount(connection.execute(delete(COUNTERS).where(old_hours | old_days)))
        t = TOTALS.c
        connection.execute(
            delete(TOTALS).where(
                ((t.span == HOUR) & (t.bucket < hour_of(now - KEEP)))
                | ((t.span == DAY) & (t.bucket < day_of(now - KEEP)))
            )
        )
        cutoff = connection.execute(
            select(BUILDS.c.id).order_by(BUILDS.c.id.desc()).offset(BUILDS_KEPT).limit(1)
        ).scalar()
        if cutoff is not None:
            connection.execute(delete(BUILDS).where(BUILDS.c.id <= cutoff))
    return gone


def record_build(engine: Engine, build: BuildRecord) -> None:
    """Remember one build."""
    with engine.begin() as connection:
        connection.execute(insert(BUILDS).values(**picked(build, _BUILD_FIELDS)))


def last_builds(engine: Engine, limit: int = 10) -> Sequence[BuildRecord]:
    """The newest builds, newest first."""
    b = BUILDS.c
    query = select(*(b[name] for name in _BUILD_FIELDS))
    with engine.connect() as connection:
        return [
            BuildRecord(**picked(r, _BUILD_FIELDS))
            for r in connection.execute(query.order_by(b.started.desc(), b.id.desc()).limit(limit))
        ]
