"""Schema migrations through Alembic, run programmatically (`rassegna db upgrade`, and
automatically when the daemon or the CLI opens a database)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from db.engine import display_url
from db.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to `revision` (default the newest); returns (before, after).

    An older `revision` is for tests that build a database as an older release left it.
    """
    config = _config()
    try:
        before = current_revision(engine)
        if before == (head_revision() if revision == "head" else revision):
            return before, before
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return before, current_revision(engine)
    except SQLAlchemyError as exc:
        reason = str(exc.orig if hasattr(exc, "orig") and exc.orig else exc).strip()
        reason = reason.splitlines()[0] if reason else type(exc).__name__
        raise StoreError(
            f"database {display_url(str(engine.url))}: cannot open or migrate it: {reason}"
        ) from exc
