"""Sources and their fetch state: creating and updating them from the configuration,
what the next fetch needs, and recording how a fetch ended.

Recording an outcome reads what `db.schedule` needs of the row (nothing at all for a
plain success, whose `FetchState` the fetch started from says everything), lets it
decide, and writes its `FetchRecord` with one UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, Update, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db import counters, models, schedule
from db.labels import label_slug
from db.records import FetchOutcome, FetchState, SourceSpec, SourceState, picked
from db.schedule import FetchRecord, SourceSchedule
from db.tables import ARTICLES, COUNTERS, SOURCES, now, rowcount

# The columns a fetch needs, read with Core (no ORM identity map): one row per poll.
_FETCH_STATE = select(
    SOURCES.c.id,
    SOURCES.c.kind,
    SOURCES.c.location,
    SOURCES.c.category,
    SOURCES.c.interval_seconds,
    SOURCES.c.fetch_url,
    SOURCES.c.etag,
    SOURCES.c.last_modified,
    SOURCES.c.gone,
    SOURCES.c.consecutive_errors,
    SOURCES.c.min_interval_seconds,
    SOURCES.c.min_interval_origin,
    SOURCES.c.redirect_target,
    SOURCES.c.ad_hoc,
    SOURCES.c.interval_auto,
    SOURCES.c.interval_min,
    SOURCES.c.interval_max,
)
# Built once: SQLAlchemy then skips building and keying the statement on every poll.
_FETCH_BY_ID = _FETCH_STATE.where(SOURCES.c.id == bindparam("id"))
_FETCH_BY_NAME = _FETCH_STATE.where(SOURCES.c.name == bindparam("name"))
_SCHEDULE_BY_ID = select(
    SOURCES.c.id,
    SOURCES.c.location,
    SOURCES.c.fetch_url,
    SOURCES.c.interval_seconds,
    SOURCES.c.consecutive_errors,
    SOURCES.c.min_interval_seconds,
    SOURCES.c.min_interval_origin,
    SOURCES.c.redirect_target,
    SOURCES.c.redirect_streak,
    SOURCES.c.url_history,
    SOURCES.c.interval_auto,
    SOURCES.c.interval_min,
    SOURCES.c.interval_max,
).where(SOURCES.c.id == bindparam("id"))


def ensure_source(sessions: sessionmaker[Session], spec: SourceSpec) -> int:
    """Create the source or update its settings; returns its id.

    Several daemons starting together may create the same source at once: the one
    that loses the race finds the winner's row on its second try.
    """
    try:
        return _ensure_source(sessions, spec)
    except IntegrityError:
        return _ensure_source(sessions, spec)


_SETTINGS = (
    "kind",
    "location",
    "category",
    "interval_seconds",
    "interval_auto",
    "interval_min",
    "interval_max",
    "ad_hoc",
)
"""What a `SourceSpec` sets on its source's row, when created and on every later use."""


def _ensure_source(sessions: sessionmaker[Session], spec: SourceSpec) -> int:
    with sessions.begin() as session:
        source = session.scalar(select(models.Source).where(models.Source.name == spec.name))
        if source is None:
            source = models.Source(
                name=spec.name,
                slug=_free_source_slug(session, label_slug(spec.name)),
                created_at=now(),
                consecutive_errors=0,
                **picked(spec, _SETTINGS),
            )
            session.add(source)
            session.flush()
        else:
            if source.location != spec.location:
                _restart(source)
            # Its latest use says what it is, `ad_hoc` included.
            for name, value in picked(spec, _SETTINGS).items():
                setattr(source, name, value)
        return source.id


def _restart(source: models.Source) -> None:
    """A new configured URL is a new start: the gone flag, the adopted redirect and the
    validators all belonged to the old one."""
    if source.location and source.location not in (source.url_history or []):
        source.url_history = [*(source.url_history or []), source.location]
    source.fetch_url = None
    source.gone = False
    source.redirect_target = None
    source.redirect_streak = 0
    source.etag = None
    source.last_modified = None
    if source.next_due == schedule.GONE_DUE:
        source.next_due = None


def _free_source_slug(session: Session, base: str) -> str:
    slug, n = base, 1
    while session.scalar(select(models.Source.id).where(models.Source.slug == slug)):
        n += 1
        slug = f"{base}-{n}"
    return slug


def next_due(engine: Engine, names: Sequence[str]) -> datetime | None:
    """When the first of these sources is due next (one indexed query)."""
    s = SOURCES.c
    with engine.connect() as connection:
        return connection.execute(
            select(func.min(s.next_due)).where(s.name.in_(list(names)), s.gone.is_(False))
        ).scalar()


_STATE_NAMES = (
    "name",
    "slug",
    "kind",
    "location",
    "category",
    "last_fetch",
    "last_success",
    "last_error",
    "consecutive_errors",
    "next_due",
    "bozo",
    "last_status",
    "last_outcome",
    "retry_after",
    "fetch_url",
    "id",
    "interval_seconds",
    "min_interval_seconds",
    "interval_used",
    "interval_reason",
    "min_interval_origin",
)
"""Columns of `sources` a `SourceState` takes over as they are, under the same names."""


def source_states(engine: Engine, *, exact_counts: bool = True) -> list[SourceState]:
    """Every source and what its last fetches did, by name (for `rassegna sources`).

    Article counts are counted, or with `exact_counts` off read from the sources' totals
    in `db.counters` (kept with every store and delete: no scan of the articles)."""
    a = models.Article
    c = COUNTERS.c
    counts = (
        select(a.source_id, func.count().label("n")).group_by(a.source_id).subquery()
        if exact_counts
        else select(c.source_id, c.stored.label("n")).where(c.span == counters.TOTAL).subquery()
    )
    query = (
        select(SOURCES, func.coalesce(counts.c.n, 0).label("article_count"))
        .outerjoin(counts, counts.c.source_id == SOURCES.c.id)
        .order_by(SOURCES.c.name)
    )
    with engine.connect() as connection:
        return [
            SourceState(
                **picked(s, _STATE_NAMES),
                article_count=int(s.article_count),
                gone=bool(s.gone),
                url_history=tuple(s.url_history or ()),
                ad_hoc=bool(s.ad_hoc),
                **_bounds(s),
            )
            for s in connection.execute(query)
        ]


def _fetch_state(row: Any) -> FetchState:
    return FetchState(
        source_id=row.id,
        url=row.fetch_url or row.location,
        etag=row.etag,
        last_modified=row.last_modified,
        gone=bool(row.gone),
        consecutive_errors=row.consecutive_errors or 0,
        interval_seconds=row.interval_seconds,
        min_interval_seconds=row.min_interval_seconds,
        min_interval_origin=row.min_interval_origin,
        redirect_target=row.redirect_target,
        **_bounds(row),
    )


def _bounds(row: Any) -> dict[str, Any]:
    """The adaptive interval's settings of a source row (defaults where unset)."""
    values: dict[str, Any] = {"interval_auto": bool(row.interval_auto)}
    if row.interval_min is not None:
        values["interval_min"] = row.interval_min
    if row.interval_max is not None:
        values["interval_max"] = row.interval_max
    return values


def entries_last_week(connection: Connection, source_id: int, when: datetime) -> int:
    """Articles of the source published in the seven days before `when` (an index range
    on (source, published)), what an adaptive interval follows."""
    a = ARTICLES.c
    since = when - timedelta(seconds=schedule.WEEK)
    count = connection.execute(
        select(func.count()).where(
            a.source_id == source_id, a.published > since, a.published <= when
        )
    ).scalar()
    return int(count or 0)


def fetch_state(engine: Engine, source_id: int) -> FetchState:
    """The URL and validators the next fetch of a remote source uses."""
    with engine.connect() as connection:
        row = connection.execute(_FETCH_BY_ID, {"id": source_id}).one()
    return _fetch_state(row)


def prepare_fetch(engine: Engine, sessions: sessionmaker[Session], spec: SourceSpec) -> FetchState:
    """`ensure_source` and `fetch_state` in one read when the source is already stored
    as `spec` says (every poll but the first): a poll that ends in 304 then costs
    this read and the one write of `record_fetch_outcome`."""
    with engine.connect() as connection:
        row = connection.execute(_FETCH_BY_NAME, {"name": spec.name}).first()
    if row is not None and (
        row.kind,
        row.location,
        row.category,
        row.interval_seconds,
        row.ad_hoc,
        bool(row.interval_auto),
        row.interval_min,
        row.interval_max,
    ) == (
        spec.kind,
        spec.location,
        spec.category,
        spec.interval_seconds,
        spec.ad_hoc,
        spec.interval_auto,
        spec.interval_min,
        spec.interval_max,
    ):
        return _fetch_state(row)
    return fetch_state(engine, ensure_source(sessions, spec))


def _read_schedule(connection: Connection, source_id: int) -> SourceSchedule:
    row = connection.execute(_SCHEDULE_BY_ID, {"id": source_id}).one()
    return SourceSchedule(
        source_id=row.id,
        url=row.fetch_url or row.location,
        interval_seconds=row.interval_seconds,
        consecutive_errors=row.consecutive_errors or 0,
        min_interval_seconds=row.min_interval_seconds,
        min_interval_origin=row.min_interval_origin,
        redirect_target=row.redirect_target,
        redirect_streak=row.redirect_streak or 0,
        url_history=tuple(row.url_history or ()),
        **_bounds(row),
    )


def _recent_outcomes(connection: Connection, when: datetime) -> dict[int, str | None]:
    """The last outcome of every live remote source fetched within the network window."""
    s = SOURCES.c
    rows = connection.execute(
        select(s.id, s.last_outcome).where(
            s.kind.in_(schedule.REMOTE_KINDS),
            s.gone.is_(False),
            s.last_fetch >= when - schedule.NETWORK_DOWN_WINDOW,
        )
    )
    return {source_id: outcome for source_id, outcome in rows}


@lru_cache(maxsize=64)
def _update_statement(columns: tuple[str, ...]) -> Update:
    """The UPDATE of one source setting these columns: a handful of variants, each built
    once (SQLAlchemy then skips building and keying it on every poll)."""
    return (
        update(SOURCES)
        .where(SOURCES.c.id == bindparam("id_"))
        .values({c: bindparam(f"v_{c}", type_=SOURCES.c[c].type) for c in columns})
    )


def _write(connection: Connection, source_id: int, record: FetchRecord) -> int:
    """Write `record` to the source's row; returns the rows written (0: no such source)."""
    columns = tuple(sorted(record.values))
    params = {f"v_{c}": record.values[c] for c in columns}
    params["id_"] = source_id
    return rowcount(connection.execute(_update_statement(columns), params))


def record_fetch(
    engine: Engine, source_id: int, *, error: str | None, when: datetime | None = None
) -> None:
    """Note the outcome of one read of a local source and when it is due next."""
    when = when or now()
    with engine.begin() as connection:
        source = _read_schedule(connection, source_id)
        if source.interval_auto:
            source = replace(
                source, entries_last_week=entries_last_week(connection, source_id, when)
            )
        _write(connection, source_id, schedule.decide_local_fetch(source, error, when))
        counters.add(connection, source_id, when, **{"fetch_error" if error else "fetch_new": 1})


def record_fetch_outcome(
    engine: Engine,
    source_id: int,
    outcome: FetchOutcome,
    *,
    when: datetime | None = None,
    state: FetchState | None = None,
) -> datetime:
    """Note how one fetch of a remote source ended and schedule the next; returns it.

    The rules are `db.schedule`'s. `state`, the `FetchState` this fetch started from,
    lets a success with no redirect to confirm (the common case, and every 304) be one
    UPDATE without a read.
    """
    when = when or now()
    with engine.begin() as connection:
        if (
            state is not None
            and state.source_id == source_id
            and schedule.confirms_no_redirect(state, outcome)
        ):
            entries = entries_last_week(connection, source_id, when) if state.interval_auto else 0
            record = schedule.decide_fetch(SourceSchedule.of(state, entries), outcome, when)
            if _write(connection, source_id, record):
                _count(connection, source_id, outcome, when)
                return record.next_due
        source = _read_schedule(connection, source_id)
        if source.interval_auto:
            source = replace(
                source, entries_last_week=entries_last_week(connection, source_id, when)
            )
        down = schedule.counts_network_check(outcome) and schedule.network_seems_down(
            _recent_outcomes(connection, when), source_id
        )
        record = schedule.decide_fetch(source, outcome, when, network_down=down)
        _write(connection, source_id, record)
        _count(connection, source_id, outcome, when)
    return record.next_due


def _count(connection: Connection, source_id: int, outcome: FetchOutcome, when: datetime) -> None:
    """Add the fetch to the source's counters (`db.counters`), in the same transaction."""
    counters.add(connection, source_id, when, **{counters.fetch_column(outcome.kind.value): 1})
