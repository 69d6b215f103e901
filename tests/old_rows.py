"""Rows as an older release stored them, for the tests that upgrade a database left at an
earlier Alembic revision (its tables reflected, no model of today's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Table


def insert_old_source(
    connection: Connection,
    sources: Table,
    *,
    name: str,
    slug: str,
    kind: str,
    location: str,
    created_at: datetime,
) -> int:
    """Insert a `sources` row with the columns every revision has; returns its id."""
    result = connection.execute(
        sources.insert(),
        {
            "name": name,
            "slug": slug,
            "kind": kind,
            "location": location,
            "interval_seconds": 600,
            "created_at": created_at,
            "consecutive_errors": 0,
        },
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
