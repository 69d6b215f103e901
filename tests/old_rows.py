"""Rows as an older release stored them, for the tests that upgrade a database left at an
earlier Alembic revision (its tables reflected, no model of today's)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table

from db.engine import make_engine
from db.migrate import upgrade


def old_database(url: str, revision: str) -> tuple[Engine, Mapping[str, Table]]:
    """The database at `url` migrated up to `revision` only, with its tables by name as
    that revision made them (reflected); the caller disposes of the engine."""
    engine = make_engine(url)
    upgrade(engine, revision)
    tables = MetaData()
    tables.reflect(engine)
    return engine, tables.tables


def insert_old_source(
    connection: Connection,
    sources: Table,
    *,
    created_at: datetime,
    name: str = "Vecchia fonte",
    slug: str = "vecchia-fonte",
    kind: str = "files",
    location: str = "/tmp/vecchia",
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


def old_article(source_id: int, n: int, when: datetime, **fields: Any) -> dict[str, Any]:
    """Article number `n` of a source as an `articles` row with the columns every revision
    has, stored, published and updated at `when`; `fields` set or override columns."""
    row: dict[str, Any] = {
        "uid": f"urn:uuid:{uuid.UUID(int=n)}",
        "source_id": source_id,
        "guid": f"g{n}",
        "title": f"Articolo {n}",
        "summary": "",
        "content_html": "",
        "content_text": "",
        "authors": [],
        "published": when,
        "updated": when,
        "ingested": when,
        "content_hash": "h",
        "slug": "",
    }
    row.update(fields)
    return row


def insert_old_articles(
    connection: Connection,
    tables: Mapping[str, Table],
    when: datetime,
    articles: Iterable[dict[str, Any]],
    **source: Any,
) -> int:
    """A source created at `when` (`source` overriding the defaults of `insert_old_source`)
    and its articles: number n, counting from 1, is `old_article(..., n, when, **fields)`
    with the nth `fields` of `articles`. Returns the source's id."""
    source_id = insert_old_source(connection, tables["sources"], created_at=when, **source)
    rows = [old_article(source_id, n, when, **fields) for n, fields in enumerate(articles, 1)]
    connection.execute(tables["articles"].insert(), rows)
    return source_id
