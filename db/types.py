"""Column types shared by the models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC on every backend.

    SQLite has no time zone type and returns naive values; storing UTC and re-attaching
    the zone on the way out keeps every datetime that leaves the store aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; attach a time zone first")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        # Every article write binds several dates per row, and the generic chain (this
        # class's `process_bind_param`, then SQLite's DATETIME formatting through a dict)
        # was a visible share of a batch's insert. The text is the one SQLite's DATETIME
        # writes: `YYYY-MM-DD HH:MM:SS.ffffff`, microseconds always present.
        return _sqlite_text

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def bind_datetime(dialect: Dialect) -> Callable[[datetime | None], Any]:
    """What `UTCDateTime` hands `dialect`'s driver for a value: for statements that go to
    the driver directly (`db.tables.insert_tuples`) and must store what SQLAlchemy would."""
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None  # `process_bind_param` is always part of it
    return process


def _sqlite_text(value: datetime | None) -> str | None:
    """What `UTCDateTime` stores on SQLite for `value`: its UTC time as SQLite's DATETIME
    text."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; attach a time zone first")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")
