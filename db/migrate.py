"""Schema migrations through Alembic, run programmatically (`rassegna db upgrade`, and
automatically when the daemon or the CLI opens a database)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from db.engine import display_url
from db.errors import StoreError, reason_of

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATE_LOCK = 0x7261_7373_6567_6E61  # "rassegna": the advisory lock key of migrations


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def revisions() -> list[str]:
    """Every revision of the schema, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to `revision` (default the newest); returns (before, after).

    An older `revision` is for tests that build a database as an older release left it.
    """
    with _sqlite_migration_lock(engine):
        return _upgrade(engine, revision)


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """Two processes opening a new SQLite database at once must not both create tables:
    the second waits on a file lock beside the database, then finds the schema done."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _transactional_ddl(connection: Connection) -> Iterator[None]:
    """All of a SQLite upgrade in one transaction, so that a crash (a SIGKILL during the
    first start) leaves the schema as it was, never tables without their revision.

    pysqlite opens transactions only before INSERT/UPDATE/DELETE, so each CREATE TABLE
    before the first of them committed on its own; with its own handling off, the
    explicit BEGIN of `_upgrade` covers every statement, and COMMIT (or ROLLBACK) ends it.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None  # a checked-out connection always has one
    legacy = driver.isolation_level
    driver.isolation_level = None
    try:
        yield
    finally:
        driver.isolation_level = legacy


def _upgrade(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    config = _config()
    try:
        before = current_revision(engine)
        if before == (head_revision() if revision == "head" else revision):
            return before, before
        with (
            engine.connect() as connection,
            _transactional_ddl(connection),
            connection.begin(),
        ):
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            if connection.dialect.name == "postgresql":
                # Several daemons may start at once: one migrates, the others wait here
                # and then find nothing left to do (the lock ends with the transaction).
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return before, current_revision(engine)
    except SQLAlchemyError as exc:
        reason = reason_of(exc)
        raise StoreError(
            f"database {display_url(str(engine.url))}: cannot open or migrate it: {reason}"
        ) from exc
