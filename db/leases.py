"""Renewing the leases of claims a living daemon still works on (its heartbeat).

A claim (`sources.claimed_by`, `lease_until`) lasts one lease; a daemon renews the claims
of the sources it is still fetching, so a short lease frees a dead daemon's sources soon
while a slow fetch of a living one keeps its source.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update

from db import models


def renew_claims(
    engine: Engine,
    owner: str,
    names: Collection[str],
    *,
    lease_seconds: int,
    now: datetime | None = None,
) -> list[str]:
    """Push the lease of `owner`'s claims on `names` to `now + lease_seconds`; returns the
    names renewed. A claim already recorded (its fetch done) or taken over by another
    daemon is not `owner`'s any more and is left alone."""
    if not names:
        return []
    now = now or datetime.now(UTC)
    s = models.Source
    renew = (
        update(s)
        .where(s.claimed_by == owner, s.name.in_(sorted(names)))
        .values(lease_until=now + timedelta(seconds=lease_seconds))
        .returning(s.name)
    )
    with engine.begin() as connection:
        return sorted(connection.execute(renew).scalars())
