"""Claims and leases: which daemon polls which source now, and database-wide locks.

A claim ends when the fetch is recorded (`db.sources`), when its owner gives it back,
or when its lease runs out (the daemon died).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, any_, bindparam, or_, select, text, update
from sqlalchemy.dialects import postgresql

from db import tables
from db.tables import SOURCES, rowcount


def claim_due(
    engine: Engine,
    owner: str,
    names: Sequence[str],
    *,
    lease_seconds: int,
    now: datetime | None = None,
    limit: int | None = None,
) -> list[str]:
    """Claim the sources among `names` that are due and not claimed by a live lease, for
    `lease_seconds` (the daemon's `[scheduler] lease`) unless their fetch is recorded first.

    Returns the names claimed, oldest due first. On PostgreSQL the rows are picked
    with `FOR UPDATE SKIP LOCKED`, so daemons claiming at the same moment never get
    the same source; on SQLite writers are serialized by the database itself.
    """
    if not names:
        return []
    when = now or tables.now()
    s = SOURCES.c
    if engine.dialect.name == "postgresql":
        # One array parameter: the same SQL text whatever the number of names, so
        # the statement is not rendered anew for each claim (thousands of names).
        among = s.name == any_(bindparam("names", list(names), type_=postgresql.ARRAY(s.name.type)))
    else:
        among = s.name.in_(list(names))
    due = (
        select(s.id)
        .where(
            among,
            s.gone.is_(False),
            or_(s.next_due.is_(None), s.next_due <= when),
            or_(s.lease_until.is_(None), s.lease_until < when),
        )
        .order_by(s.next_due.asc().nulls_first(), s.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(SOURCES)
        .where(s.id.in_(due.scalar_subquery()))
        .values(claimed_by=owner, lease_until=when + timedelta(seconds=lease_seconds))
        .returning(s.name, s.next_due)
    )
    with engine.begin() as connection:
        rows = connection.execute(claim).all()
    never = datetime.min.replace(tzinfo=UTC)
    return [name for name, _ in sorted(rows, key=lambda r: (r[1] or never, r[0]))]


def release_claims(engine: Engine, owner: str) -> int:
    """Give back every claim of `owner` (a daemon shutting down); returns how many."""
    s = SOURCES.c
    with engine.begin() as connection:
        return rowcount(
            connection.execute(
                update(SOURCES)
                .where(s.claimed_by == owner)
                .values(claimed_by=None, lease_until=None)
            )
        )


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[None]:
    """Hold a database-wide lock named `name` (PostgreSQL advisory lock; a no-op on
    SQLite, where one daemon per database is enforced by a file lock).

    Daemons sharing one PostgreSQL store build the feeds under it, so two processes
    never write the same files at once.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()
