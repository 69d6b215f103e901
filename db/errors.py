"""Errors the store raises, each carrying one sentence a user can act on.

Nothing outside `db` sees SQLAlchemy's or the driver's exceptions: `Store` turns them
into `DatabaseError` (`translated`), so callers catch `StoreError` alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError


class StoreError(Exception):
    """A database problem the user must fix (unreachable server, bad URL, failed migration)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DatabaseError(StoreError):
    """The database failed a request: unreachable, busy for too long, or refusing it."""


def reason_of(exc: SQLAlchemyError) -> str:
    """The first line of what the driver said (SQLAlchemy's own text when it said
    nothing), without the statement and parameters SQLAlchemy appends."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextmanager
def translated(database: str) -> Iterator[None]:
    """Raise `DatabaseError` naming `database` (a display URL) for any SQLAlchemy error
    inside the block."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise DatabaseError(f"database {database}: {reason_of(exc)}") from exc
