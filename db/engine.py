"""Engine creation: SQLite tuned for a daemon plus CLI writers, PostgreSQL through psycopg 3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from db.errors import StoreError

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 4096
"""WAL pages (16 MiB at SQLite's 4 KiB page) after which a commit folds the WAL back into
the database file: four times SQLite's default of 1000."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the CLI read (and briefly write) while the daemon writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # NORMAL is durable across application crashes in WAL mode; only an OS crash can
    # lose the last transactions, never corrupt the file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # The checkpoint runs inside the commit that crosses the limit, on the writer's clock,
    # with two fsyncs; at the default limit a feed ingest of a thousand entries crossed it
    # several times, and pages its transactions rewrite (indexes, the search index) were
    # copied at each. A larger limit folds them once. Crash safety is unchanged: an
    # application crash loses no committed transaction whatever the WAL's size, and an OS
    # crash can lose the transactions since the last checkpoint, as before (a WAL of up
    # to this limit rather than of 1000 pages; never a corrupt file).
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """Create an engine for `url`; SQLite parent folders are created as needed."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database.url: {url!r} is not a database URL") from exc
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = pool_size
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StoreError(
            f"database.url: no driver for {parsed.drivername!r}"
            " (for PostgreSQL install the 'postgres' extra and use postgresql+psycopg://)"
        ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
