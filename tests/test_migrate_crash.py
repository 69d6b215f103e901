"""A SQLite upgrade is one transaction: a process killed in the middle of it (the daemon's
first start stopped by SIGKILL, a power cut) leaves the schema as it was before, and the
next start migrates it. Each case kills a real subprocess with SIGKILL at the Nth
CREATE TABLE the upgrade sends to SQLite."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table

from db.engine import make_engine
from db.migrate import current_revision, head_revision, upgrade
from tests.old_rows import insert_old_source

REPO = Path(__file__).resolve().parent.parent
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from sqlalchemy import event
    from db.engine import make_engine
    from db.migrate import upgrade

    engine = make_engine(sys.argv[1])
    creates = 0

    @event.listens_for(engine, "before_cursor_execute")
    def kill_at_nth_create(conn, cursor, statement, parameters, context, many):
        global creates
        if statement.lstrip().upper().startswith("CREATE TABLE"):
            creates += 1
            if creates == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)

    upgrade(engine)
    print("the upgrade ended before the kill")
    """
)


def _killed_upgrade(url: str, nth_create: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", KILLER, url, str(nth_create)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


@pytest.mark.parametrize("nth_create", [1, 2, 5])
def test_a_first_start_killed_inside_the_migrations_leaves_no_table_and_restarts(
    tmp_path: Path, nth_create: int
) -> None:
    path = tmp_path / "rassegna.db"
    url = f"sqlite:///{path}"
    _killed_upgrade(url, nth_create)
    assert _tables(path) == set()
    engine = make_engine(url)
    assert upgrade(engine) == (None, head_revision())
    assert {"articles", "sources", "alembic_version"} <= _tables(path)


def test_an_upgrade_killed_halfway_keeps_the_old_revision_and_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rassegna.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine, "0003")
    with engine.begin() as connection:
        sources = Table("sources", MetaData(), autoload_with=connection)
        insert_old_source(connection, sources, created_at=datetime(2026, 3, 1, tzinfo=UTC))
    before = _tables(path)
    engine.dispose()
    # revision 0004 onwards rebuild tables in batch mode: the kill lands between the
    # copy of a table and the drop of the original
    _killed_upgrade(url, 2)
    assert _tables(path) == before
    engine = make_engine(url)
    assert current_revision(engine) == "0003"
    assert upgrade(engine) == ("0003", head_revision())
    with engine.connect() as connection:
        names = connection.exec_driver_sql("SELECT name FROM sources").scalars().all()
    assert names == ["Vecchia fonte"]
