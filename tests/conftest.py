"""Shared fixtures: real SQLite stores, the PostgreSQL URL, the shared folder and test data."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy.engine import Connection
from starlette.applications import Starlette
from typer.testing import CliRunner, Result

from db.store import Store
from rassegna.server import BackgroundServer

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


def shared_dir() -> Path | None:
    """The read-only `shared/` folder beside the checkout (or RASSEGNA_SHARED_DIR)."""
    candidates = [
        os.environ.get("RASSEGNA_SHARED_DIR"),
        str(REPO.parent / "shared"),
        "/work/shared",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "DESIGN.md").exists():
            return Path(candidate)
    return None


@pytest.fixture
def shared() -> Path:
    found = shared_dir()
    if found is None:
        pytest.skip("the shared/ folder is not present (set RASSEGNA_SHARED_DIR)")
    return found


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The output folder a test builds into (not created yet)."""
    return tmp_path / "public"


@pytest.fixture(scope="session")
def atom_schema() -> etree.RelaxNG:
    """The Atom 1.0 RELAX NG schema of the shared folder, read once per session (so that
    hypothesis tests may use it too)."""
    found = shared_dir()
    if found is None:
        pytest.skip("the shared/ folder is not present (set RASSEGNA_SHARED_DIR)")
    return etree.RelaxNG(etree.parse(str(found / "schemas" / "atom.rng")))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'rassegna.db'}"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    opened = Store.open(sqlite_url)
    yield opened
    opened.close()


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get("RASSEGNA_TEST_PG_URL")
    if not url:
        pytest.skip("RASSEGNA_TEST_PG_URL is not set: PostgreSQL tests skipped")
    return url


def _keep_unaccent_in_public(connection: Connection) -> None:
    """Install `unaccent` in `public` before any test schema exists.

    An extension belongs to one schema, and the migrations install it in the first schema of
    the search path: a test's own. Dropping that schema with CASCADE would drop the
    extension and the search configuration of every other schema using it, so a test
    running beside another (two suites on one server) would fail at random.
    """
    where = connection.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n"
        " ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'"
    ).scalar()
    if where is None:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
    elif where != "public":
        connection.exec_driver_sql("ALTER EXTENSION unaccent SET SCHEMA public")


@contextmanager
def pg_schema(pg_url: str) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL schema of its own, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, pool_pre_ping=True)  # survives a server restart
    with admin.begin() as connection:
        _keep_unaccent_in_public(connection)
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    """A Store on the test PostgreSQL, in a schema of its own that is dropped afterwards."""
    with pg_schema(pg_url) as url:
        opened = Store.open(url)
        try:
            yield opened
        finally:
            opened.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def bare_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (no schema yet), on SQLite and on PostgreSQL: for
    migration tests that start from an old revision."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with pg_schema(request.getfixturevalue("pg_url")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest) -> Store:
    """The same test on a real SQLite file and on the real PostgreSQL server."""
    name = "store" if request.param == "sqlite" else "pg_store"
    found = request.getfixturevalue(name)
    assert isinstance(found, Store)
    return found


def example_cases(examples: Mapping[str, Sequence[tuple[Any, ...]]]) -> list[pytest.ParameterSet]:
    """Test cases from examples grouped under names: each tuple is one case, its id the name,
    numbered where the name has several."""
    return [
        pytest.param(*case, id=name if len(cases) == 1 else f"{name}-{number}")
        for name, cases in examples.items()
        for number, case in enumerate(cases, 1)
    ]


def invoke_app(args: Sequence[str], *, columns: int = 80) -> Result:
    """Run the command-line app in-process (typer's CliRunner: the same code, no
    subprocess) and return its result. The app sets up logging on the root logger for its
    own process; the previous state (pytest's capture handlers among it) comes back
    afterwards, so later tests do not log into the runner's closed stream."""
    from rassegna.cli import app

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = ("httpx", "httpcore", "apscheduler", "uvicorn.access", "alembic")
    noisy = {name: logging.getLogger(name).level for name in names}
    try:
        return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in noisy.items():
            logging.getLogger(name).setLevel(old)


def write_config(folder: Path, body: str) -> Path:
    """Write a rassegna.toml into `folder` and return its path."""
    path = folder / "rassegna.toml"
    path.write_text(body, encoding="utf-8")
    return path


def write_site_config(folder: Path, database_url: str, more: str = "") -> Path:
    """A rassegna.toml in `folder` for a site at http://127.0.0.1:8080/ with its store at
    `database_url`, followed by the TOML `more`; returns its path."""
    head = f"""
[site]
title = "Prova"
base_url = "http://127.0.0.1:8080/"

[database]
url = "{database_url}"
"""
    return write_config(folder, head + more)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(app: Starlette, port: int | None = None) -> Iterator[str]:
    """`app` served over loopback by a thread for the length of the block: yields its
    base URL, `http://127.0.0.1:<port>` (a free port unless `port` is given)."""
    port = port or free_port()
    server = BackgroundServer(app, "127.0.0.1", port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def wait_for_http(url: str, timeout: float = 20.0) -> None:
    """Poll `url` until it answers (any status) or fail after `timeout` seconds."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m rassegna ARGS` as a real subprocess and capture its output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RASSEGNA_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "rassegna", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=timeout,
        check=False,
    )


def spawn_cli(*args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[str]:
    """`python -m rassegna ARGS` started in the background (text mode), inheriting no
    RASSEGNA_ variable but those of `env`; `popen` goes to `subprocess.Popen`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RASSEGNA_")}
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "rassegna", *args], env=full_env, text=True, **popen
    )


def spawn_run(
    config: Path, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.Popen[str]:
    """The daemon, `python -m rassegna --config CONFIG run`, started in the background as
    `spawn_cli` starts it (no RASSEGNA_ variable inherited but those of `env`)."""
    return spawn_cli("--config", str(config), "run", env=env, **popen)


def start_daemon(config: Path, index: int, settings: dict[str, str]) -> subprocess.Popen[str]:
    """`rassegna run` in the background as daemon number `index` of a test: its state in
    `var<index>` and its output in `daemon<index>.log` beside the config, `settings` as
    RASSEGNA_ environment variables (none inherited)."""
    env = {"RASSEGNA_STATE__DIR": str(config.parent / f"var{index}"), **settings}
    # A log file, not a pipe: nobody reads a pipe until the end, and a full one blocks
    # the daemon on its next log line.
    with (config.parent / f"daemon{index}.log").open("w") as log:
        return spawn_run(config, env, stdout=log, stderr=subprocess.STDOUT)


def stop_daemons(daemons: list[subprocess.Popen[str]], folder: Path) -> list[str]:
    """Stop the daemons `start_daemon` started with their config in `folder` (one SIGTERM
    each, all at once) and return the end of each one's log."""
    for daemon in daemons:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
    for daemon in daemons:
        daemon.wait(60)
    return [
        (folder / f"daemon{i}.log").read_text(errors="replace")[-3000:] for i in range(len(daemons))
    ]


def run_once(folder: Path) -> subprocess.CompletedProcess[str]:
    """`rassegna run --once` with the default config, its state in `folder/var` and its
    output in `folder/out`."""
    return run_cli(
        "--config",
        str(REPO / "config" / "rassegna.toml"),
        "run",
        "--once",
        env={
            "RASSEGNA_STATE__DIR": str(folder / "var"),
            "RASSEGNA_OUTPUT__DIR": str(folder / "out"),
        },
    )


@pytest.fixture
def site_config(tmp_path: Path, data_dir: Path) -> Path:
    """A config in tmp_path with one files source holding copies of tests/data/articoli."""
    import shutil

    shutil.copytree(data_dir / "articoli", tmp_path / "articoli")
    return write_config(
        tmp_path,
        """
[site]
title = "Prova di rassegna"
base_url = "http://127.0.0.1:8080/"

[[sources]]
name = "Articoli di prova"
kind = "files"
path = "articoli"
category = "Cronaca"
""",
    )
