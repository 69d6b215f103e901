"""Core table handles and batching helpers shared by the store's modules.

The store reads and writes through SQLAlchemy Core on these `Table` objects (the ORM's
identity map and unit of work cost more than the SQL for the batches it runs); every
module of `db` takes its handles from here instead of declaring its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Connection, Table, false
from sqlalchemy.dialects import postgresql, sqlite

from db import models
from db.errors import StoreError

ARTICLES = cast(Table, models.Article.__table__)
CATEGORIES = cast(Table, models.Category.__table__)
TAGS = cast(Table, models.Tag.__table__)
SOURCES = cast(Table, models.Source.__table__)
FINGERPRINTS = cast(Table, models.FileFingerprint.__table__)
AUTHORS = cast(Table, models.Author.__table__)
LINKS = cast(Table, models.ArticleLink.__table__)
TOPICS = cast(Table, models.Topic.__table__)
BLOCKED = cast(Table, models.BlockedEntry.__table__)
FETCHED_PAGES = cast(Table, models.FetchedPage.__table__)
COUNTERS = cast(Table, models.Counter.__table__)
COUNTER_TOTALS = cast(Table, models.CounterTotal.__table__)
BUILDS = cast(Table, models.Build.__table__)
REVISIONS = cast(Table, models.Revision.__table__)
ARTICLE_TAGS = models.article_tags
ARTICLE_AUTHORS = models.article_authors
TOPIC_ARTICLES = models.topic_articles

VISIBLE: ColumnElement[bool] = ARTICLES.c.hidden == false()
"""Articles every feed, listing and search shows: not hidden by `rassegna rules apply`."""

CHUNK = 500
"""Values per `IN (...)`: well under SQLite's and PostgreSQL's bound-parameter limits."""

T = TypeVar("T")


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    """`values` in consecutive slices of at most `size`, for `IN (...)` lists."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def dialect_insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """`INSERT` in the connection's dialect, for its `ON CONFLICT` clauses (both supported
    databases have the same ones, under the same names)."""
    return insert_of(connection.dialect.name, table)


def insert_of(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """`dialect_insert` by the dialect's name, for statements built once and cached."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def insert_tuples(
    connection: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Run an INSERT of `rows` (tuples, values in the order of `columns`) through the
    driver's own executemany, spelled in its paramstyle: for the rows a batch writes by
    the thousand with nothing to convert but dates, where SQLAlchemy's per-row parameter
    processing cost more than the insert. Values go to the driver as they are: a date
    must already be what its type binds (`db.types.bind_datetime`), and no column
    default is applied."""
    mark = _PLACEHOLDERS[connection.dialect.paramstyle]
    names = ", ".join(table.c[column].name for column in columns)  # only the table's own
    marks = ", ".join([mark] * len(columns))
    statement = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608 - values bound
    connection.exec_driver_sql(statement, rows)


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys) as SQLAlchemy's executemany would store
    them, through the driver's own: the statement compiled once, each value converted by
    its column type's bind processor, the columns' scalar defaults filled in. For a
    batch's new articles, where SQLAlchemy's per-row parameter handling of some twenty
    columns cost more than the insert. Positional paramstyles only (SQLite's); others go
    through SQLAlchemy."""
    dialect = connection.dialect
    compiled = table.insert().compile(dialect=dialect, column_keys=list(rows[0]))
    names = compiled.positiontup
    if names is None:
        connection.execute(table.insert(), rows)
        return
    fills: dict[str, Any] = {}
    for name in names:
        if name not in rows[0]:
            default = table.c[name].default
            if default is None or not default.is_scalar:
                raise StoreError(f"insert into {table.name}: no value and no default for {name}")
            fills[name] = cast(Any, default).arg
    columns = [
        (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names
    ]
    converted = []
    for row in rows:
        full = fills | row
        converted.append(
            tuple(full[n] if process is None else process(full[n]) for n, process in columns)
        )
    connection.exec_driver_sql(str(compiled), converted)


def now() -> datetime:
    """The store's clock when a caller gives none: aware, UTC."""
    return datetime.now(UTC)


def rowcount(result: Any) -> int:
    """Rows a DML statement touched (0 when the driver cannot tell)."""
    return int(getattr(result, "rowcount", 0) or 0)
