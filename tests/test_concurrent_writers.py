"""Concurrent writers on one store, SQLite and PostgreSQL: two CLI ingests of the same
folder at once, and CLI ingests while the daemon writes. No error, no duplicate, no lost
update (the last version of an edited file is the one stored)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db.store import Store
from tests.conftest import run_cli, write_config

FILES = 60


def _config(tmp_path: Path, database_url: str) -> tuple[Path, Path]:
    folder = tmp_path / "articoli"
    folder.mkdir()
    for n in range(FILES):
        _write(folder, n, "prima")
    config = write_config(
        tmp_path,
        f"""
[site]
title = "Prova concorrenza"
base_url = "http://127.0.0.1:8080/"

[database]
url = "{database_url}"

[server]
enabled = false

[scheduler]
interval = "1s"

[[sources]]
name = "Cartella condivisa"
kind = "files"
path = "articoli"
category = "Cronaca"
""",
    )
    return config, folder


def _write(folder: Path, n: int, version: str) -> None:
    path = folder / f"notizia-{n:03d}.txt"
    path.write_text(
        f"Notizia {n} versione {version}\nSommario {n}.\n\nCorpo {n} ({version}).\n",
        encoding="utf-8",
    )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'rassegna.db'}"
    store = request.getfixturevalue("pg_store")
    assert isinstance(store, Store)
    return store.engine.url.render_as_string(hide_password=False)


def _articles(config: Path) -> list[dict[str, str]]:
    result = run_cli("--config", str(config), "articles", "--json", "-n", "1000")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert isinstance(found, list)
    return found


def _spawn(config: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASSEGNA_")}
    return subprocess.Popen(
        [sys.executable, "-m", "rassegna", "--config", str(config), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _assert_store(config: Path, version_of: dict[int, str]) -> None:
    articles = _articles(config)
    guids = [a["guid"] for a in articles]
    assert len(guids) == len(set(guids)) == FILES
    titles = {a["title"] for a in articles}
    expected = {f"Notizia {n} versione {v}" for n, v in version_of.items()}
    assert titles == expected


def test_two_cli_ingests_of_the_same_folder_at_once(tmp_path: Path, database_url: str) -> None:
    config, folder = _config(tmp_path, database_url)
    upgrade = run_cli("--config", str(config), "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    for round_, version in enumerate(("prima", "terza")):
        if round_:
            for n in range(0, FILES, 2):
                _write(folder, n, version)
        runs = [_spawn(config, "ingest", "--all") for _ in range(3)]
        for process in runs:
            _, stderr = process.communicate(timeout=180)
            assert process.returncode == 0, stderr
            assert "Traceback" not in stderr and "error" not in stderr.lower(), stderr
    versions = {n: ("terza" if n % 2 == 0 else "prima") for n in range(FILES)}
    _assert_store(config, versions)


def test_concurrent_first_ingests_on_a_fresh_database(tmp_path: Path, database_url: str) -> None:
    config, _ = _config(tmp_path, database_url)
    runs = [_spawn(config, "ingest", "--all") for _ in range(4)]
    for process in runs:
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
    _assert_store(config, {n: "prima" for n in range(FILES)})


def test_cli_ingest_while_the_daemon_writes(tmp_path: Path, database_url: str) -> None:
    config, folder = _config(tmp_path, database_url)
    daemon = _spawn(config, "run")
    try:
        deadline = time.monotonic() + 30
        while len(_articles(config)) < FILES:
            assert daemon.poll() is None, daemon.communicate()[1]
            assert time.monotonic() < deadline, "the daemon did not ingest the folder"
            time.sleep(0.3)
        versions = {n: "prima" for n in range(FILES)}
        for version in ("seconda", "terza", "quarta"):
            for n in range(0, FILES, 3):
                _write(folder, n, version)
                versions[n] = version
            result = run_cli("--config", str(config), "ingest", "--all")
            assert result.returncode == 0, result.stderr
            assert "Traceback" not in result.stderr
        _assert_store(config, versions)
        time.sleep(1.5)  # let the daemon's own runs on the same files finish
        _assert_store(config, versions)
        assert daemon.poll() is None
    finally:
        daemon.terminate()
        _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "database is locked" not in stderr
