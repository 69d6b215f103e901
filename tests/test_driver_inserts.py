"""The upsert's inserts that skip SQLAlchemy's per-row parameter processing
(`db.tables.insert_rows`, `db.tables.insert_tuples`, `db.types.bind_datetime`) store
exactly what SQLAlchemy's own executemany stores."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.dialects import sqlite

from db.errors import StoreError
from db.records import SourceSpec
from db.store import Store
from db.tables import ARTICLES, insert_rows
from db.types import UTCDateTime, bind_datetime

ZONES = [
    UTC,
    timezone(timedelta(hours=2)),
    timezone(-timedelta(hours=5, minutes=30)),
    ZoneInfo("Europe/Rome"),
    ZoneInfo("America/New_York"),
]


def _generic_sqlite(value: datetime | None) -> Any:
    """SQLAlchemy's chain without the shortcut: `process_bind_param`, then SQLite's
    DATETIME formatting."""
    dialect = sqlite.dialect()
    kind = UTCDateTime()
    formatted = kind.impl_instance.dialect_impl(dialect).bind_processor(dialect)
    assert formatted is not None
    return formatted(kind.process_bind_param(value, dialect))


def test_sqlite_dates_bind_as_the_generic_chain_does() -> None:
    bind = bind_datetime(sqlite.dialect())
    pick = random.Random(7)
    for _ in range(20_000):
        moment = datetime(
            pick.choice([1, 999, 1000, 1900, 2024, 9998]),
            pick.randint(1, 12),
            pick.randint(1, 28),
            pick.randint(0, 23),
            pick.randint(0, 59),
            pick.randint(0, 59),
            pick.choice([0, 1, 999_999, pick.randint(0, 999_999)]),
            tzinfo=pick.choice(ZONES),
        )
        assert bind(moment) == _generic_sqlite(moment), moment
    assert bind(None) is None
    with pytest.raises(ValueError, match="naive"):
        bind(datetime(2026, 1, 1))


def test_postgresql_dates_bind_as_utc() -> None:
    # An engine that never connects: its dialect is what the store binds with.
    bind = bind_datetime(create_engine("postgresql+psycopg://nobody@localhost/none").dialect)
    rome = datetime(2026, 7, 1, 12, 30, tzinfo=ZoneInfo("Europe/Rome"))
    assert bind(rome) == datetime(2026, 7, 1, 10, 30, tzinfo=UTC)
    assert bind(rome).tzinfo is UTC


def _rows(source_id: int, prefix: str, *, seen: bool) -> list[dict[str, Any]]:
    """Article rows that differ between prefixes only in their uid, guid and page path."""
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Rome"))
    return [
        {
            "uid": f"{prefix}-uid-{n}",
            "source_id": source_id,
            "guid": f"{prefix}-{n}",
            "url": None if n % 2 else f"https://example.it/{n}",
            "title": f"Città n. {n}",
            "summary": "",
            "content_html": "<p>è</p>",
            "content_text": "è",
            "authors": ["Anna Rossi", "Luca Bianchi", "Renée"][: n % 4],
            "category_id": None,
            "published": moment + timedelta(minutes=n),
            "updated": moment,
            "ingested": moment.astimezone(UTC),
            "language": "it",
            "content_hash": f"h{n}",
            "slug": f"citta-{n}",
            "title_key": "citta",
            "visible_hash": None,
            "edit_count": n,
            "edit_window_start": None if n % 2 else moment,
            "image_url": None,
            "text_source": "feed",
            "page_path": f"{prefix}/{n}",
            **({"last_seen_at": moment} if seen else {}),
        }
        for n in range(4)
    ]


SAME = "id, uid, guid, page_path"
"""The columns that differ between the two inserts."""


def _stored(connection: Connection, prefix: str) -> list[tuple[Any, ...]]:
    """The rows of `prefix` as SQLAlchemy reads them and as the database holds them."""
    kept = [c for c in ARTICLES.c if c.name not in SAME.split(", ")]
    typed = select(*kept).where(ARTICLES.c.guid.like(f"{prefix}-%")).order_by(ARTICLES.c.guid)
    names = ", ".join(c.name for c in kept)
    raw = text(f"SELECT {names} FROM articles WHERE guid LIKE :like ORDER BY guid")
    return [tuple(row) for row in connection.execute(typed)] + [
        tuple(row) for row in connection.execute(raw, {"like": f"{prefix}-%"})
    ]


@pytest.mark.parametrize("seen", [True, False])
def test_insert_rows_stores_what_sqlalchemy_stores(any_store: Store, seen: bool) -> None:
    source_id = any_store.ensure_source(SourceSpec(name="Prova", kind="feed", location="/tmp/x"))
    with any_store.engine.begin() as connection:
        connection.execute(ARTICLES.insert(), _rows(source_id, "a", seen=seen))
        insert_rows(connection, ARTICLES, _rows(source_id, "b", seen=seen))
    with any_store.engine.connect() as connection:
        by_sqlalchemy = _stored(connection, "a")
        assert len(by_sqlalchemy) == 8
        assert _stored(connection, "b") == by_sqlalchemy


def test_insert_rows_refuses_a_missing_column_without_a_value_default(store: Store) -> None:
    source_id = store.ensure_source(SourceSpec(name="Prova", kind="feed", location="/tmp/x"))
    rows = _rows(source_id, "c", seen=False)
    for row in rows:
        del row["authors"]  # its default is a callable, not a value
    with store.engine.begin() as connection, pytest.raises(StoreError, match="authors"):
        insert_rows(connection, ARTICLES, rows)
