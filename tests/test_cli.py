"""The command line as a user runs it: real subprocesses, real files, exit codes, messages."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest

from db.migrate import head_revision
from tests.conftest import REPO, run_cli

COMMANDS = ["run", "ingest", "build", "serve", "sources", "articles", "check", "db"]


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", [*COMMANDS[:-1], "db upgrade"])
def test_each_command_help_has_an_example(command: str) -> None:
    result = run_cli(*command.split(), "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("rassegna ")


def test_ingest_build_articles_sources(site_config: Path) -> None:
    config = str(site_config)
    ingest = run_cli("--config", config, "ingest", "--all")
    assert ingest.returncode == 0, ingest.stderr
    assert "Articoli di prova: 3 new, 0 changed, 0 unchanged" in ingest.stdout
    out = site_config.parent / "var" / "public"
    feed = feedparser.parse((out / "rss.xml").read_bytes())
    assert feed.bozo == 0 and len(feed.entries) == 3
    again = run_cli("--config", config, "ingest", "Articoli di prova")
    assert "0 new, 0 changed, 3 unchanged" in again.stdout
    articles = run_cli("--config", config, "articles", "--json")
    assert articles.returncode == 0
    payload = json.loads(articles.stdout)
    assert {a["guid"] for a in payload} == {"bom.txt", "ponte.txt", "sezione/consiglio.md"}
    assert all(a["uid"].startswith("urn:uuid:") for a in payload)
    sources = json.loads(run_cli("--config", config, "sources", "--json").stdout)
    assert sources[0]["name"] == "Articoli di prova" and sources[0]["articles"] == 3
    assert sources[0]["interval"] == "10m" and sources[0]["last_error"] is None
    table = run_cli("--config", config, "articles")
    assert "Il ponte sul fiume" in table.stdout
    build = run_cli("--config", config, "build")
    assert build.returncode == 0 and "0 files written" in build.stdout


def test_skipped_files_exit_1_and_say_how_many(site_config: Path) -> None:
    folder = site_config.parent / "articoli"
    (folder / "vuoto.txt").write_bytes(b"")
    (folder / "rotto.md").write_bytes(b"---\ntitle: [x\n---\n")
    result = run_cli("--config", str(site_config), "ingest", "--all")
    assert result.returncode == 1
    assert "3 new" in result.stdout
    assert "2 article files skipped" in result.stderr
    assert "vuoto.txt: the file is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_adhoc_path_inside_a_source_keeps_identity(site_config: Path) -> None:
    config = str(site_config)
    run_cli("--config", config, "ingest", "--all")
    path = site_config.parent / "articoli" / "ponte.txt"
    path.write_text(path.read_text(encoding="utf-8") + "Un paragrafo in più.\n", encoding="utf-8")
    result = run_cli("--config", config, "ingest", str(path))
    assert result.returncode == 0, result.stderr
    assert "0 new, 1 changed" in result.stdout
    payload = json.loads(run_cli("--config", config, "articles", "--json").stdout)
    assert len(payload) == 3


def test_adhoc_folder_outside_sources(site_config: Path, tmp_path: Path) -> None:
    extra = tmp_path / "altrove"
    extra.mkdir()
    (extra / "uno.txt").write_text(
        "Notizia fuori dalle fonti\nSommario\n\nCorpo.\n", encoding="utf-8"
    )
    result = run_cli("--config", str(site_config), "ingest", str(extra))
    assert result.returncode == 0, result.stderr
    assert "1 new" in result.stdout


def test_usage_errors_exit_2(site_config: Path) -> None:
    assert run_cli("--config", str(site_config), "ingest").returncode == 2
    assert run_cli("--config", str(site_config), "ingest", "x", "--all").returncode == 2
    assert run_cli("--config", str(site_config), "nonexistent-command").returncode == 2
    assert run_cli("--config", str(site_config), "articles", "--limit", "zero").returncode == 2


def test_unknown_source_name(site_config: Path) -> None:
    result = run_cli("--config", str(site_config), "ingest", "Nessuna")
    assert result.returncode == 1
    assert 'no source named "Nessuna"' in result.stderr
    assert '"Articoli di prova"' in result.stderr


def test_bad_config_is_one_sentence(tmp_path: Path) -> None:
    config = tmp_path / "rassegna.toml"
    config.write_text('[scheduler]\ninterval = "ten minutes"\n', encoding="utf-8")
    result = run_cli("--config", str(config), "check")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f'error: {config}: scheduler.interval: "ten minutes" is not a duration like "10m"'
    )
    verbose = run_cli("--verbose", "--config", str(config), "check")
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


def test_missing_config(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 1
    assert "no configuration file" in result.stderr


def test_config_from_environment_variable(site_config: Path) -> None:
    result = run_cli("check", env={"RASSEGNA_CONFIG": str(site_config)})
    assert result.returncode == 0, result.stderr
    assert "configuration is valid (1 sources)" in result.stdout
    assert f"reachable, schema {head_revision()}" in result.stdout


def test_check_unreachable_database(site_config: Path) -> None:
    result = run_cli(
        "--config",
        str(site_config),
        "check",
        env={"RASSEGNA_DATABASE__URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )
    assert result.returncode == 1
    assert "127.0.0.1:1" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_upgrade(site_config: Path) -> None:
    first = run_cli("--config", str(site_config), "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert f"upgraded from empty to {head_revision()}" in first.stdout
    second = run_cli("--config", str(site_config), "db", "upgrade")
    assert f"already at schema {head_revision()}" in second.stdout


def test_postgres_end_to_end(site_config: Path, pg_store: object) -> None:
    from db.store import Store

    assert isinstance(pg_store, Store)
    url = pg_store.engine.url.render_as_string(hide_password=False)
    env = {"RASSEGNA_DATABASE__URL": url}
    result = run_cli("--config", str(site_config), "ingest", "--all", env=env)
    assert result.returncode == 0, result.stderr
    assert pg_store.article_count() == 3


def test_shipped_config_check(tmp_path: Path) -> None:
    result = run_cli(
        "--config",
        str(REPO / "config" / "rassegna.toml"),
        "check",
        env={"RASSEGNA_STATE__DIR": str(tmp_path / "state")},
    )
    assert result.returncode == 0, result.stderr


def test_journal_logging_has_priority_and_no_timestamp(site_config: Path) -> None:
    result = run_cli(
        "--config", str(site_config), "ingest", "--all", env={"JOURNAL_STREAM": "8:1234"}
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith(("<6>", "<4>", "<3>")) for line in lines), lines
    assert any(
        line.startswith('<6>rassegna.ingest: source "Articoli di prova": 3 new') for line in lines
    )


def test_terminal_logging_has_timestamps(site_config: Path) -> None:
    result = run_cli("--config", str(site_config), "ingest", "--all")
    first = result.stderr.strip().splitlines()[0]
    assert first[2] == ":" and " INFO rassegna" in first


def test_preview_shows_the_normalized_article_without_storing(
    site_config: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "rovinato.txt"
    damaged.write_bytes(
        "PerchÃ© la citta' cambia orario\r\nL’assessore spiega  le novita'.\r\n\r\nSara' in vigore da lunedi' e non ci sono altre novita' per chi arriva in centro con la macchina.\r\n".encode()
    )
    result = run_cli("--config", str(site_config), "preview", str(damaged), "--json")
    assert result.returncode == 0, result.stderr
    fields = json.loads(result.stdout)
    assert fields["title"] == "Perché la città cambia orario"
    assert fields["summary"] == "L'assessore spiega le novità."
    assert fields["content_text"] == (
        "Sarà in vigore da lunedì e non ci sono altre novità per chi arriva in centro con la macchina."
    )
    assert fields["language"] == "it" and fields["slug"] == "perche-la-citta-cambia-orario"
    assert fields["reading_time_minutes"] == 1
    text = run_cli("--config", str(site_config), "preview", str(damaged))
    assert "title: Perché la città cambia orario" in text.stdout
    assert (
        not (site_config.parent / "var" / "rassegna.db").exists()
        or json.loads(run_cli("--config", str(site_config), "articles", "--json").stdout) == []
    )


def test_preview_of_a_broken_file(site_config: Path, tmp_path: Path) -> None:
    broken = tmp_path / "vuoto.md"
    broken.write_bytes(b"")
    result = run_cli("--config", str(site_config), "preview", str(broken))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {broken}: the file is empty"


def test_progress_bar_on_a_terminal_only(site_config: Path) -> None:
    """A long ingest shows a progress bar on a terminal and stays quiet otherwise."""
    import os
    import pty
    import subprocess
    import sys

    for i in range(40):
        (site_config.parent / "articoli" / f"extra-{i:02}.txt").write_text(
            f"Notizia {i} per la barra\nSommario {i}.\n\nCorpo {i}.\n", encoding="utf-8"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASSEGNA_")}
    env.update({"COLUMNS": "100", "TERM": "xterm"})
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "rassegna", "--config", str(site_config), "ingest", "--all"],
        stdout=secondary,
        stderr=secondary,
        env=env,
        cwd=REPO,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert process.wait(60) == 0
    on_terminal = b"".join(chunks).decode("utf-8", errors="replace")
    assert "━" in on_terminal and "/43" in on_terminal, on_terminal
    piped = run_cli("-q", "--config", str(site_config), "ingest", "--all")
    assert "━" not in piped.stdout + piped.stderr


def test_normalize_config_reaches_stored_articles(site_config: Path) -> None:
    with site_config.open("a", encoding="utf-8") as config:
        config.write(
            '\n[normalize]\nauto_tags = true\n\n[normalize.categories]\n"Politica" = "Governo locale"\n'
        )
    result = run_cli("--config", str(site_config), "ingest", "--all")
    assert result.returncode == 0, result.stderr
    by_guid = {
        a["guid"]: a
        for a in json.loads(run_cli("--config", str(site_config), "articles", "--json").stdout)
    }
    md = by_guid["sezione/consiglio.md"]
    assert md["category"]["name"] == "Governo locale"
    ponte = by_guid["ponte.txt"]
    assert ponte["category"]["name"] == "Cronaca"  # unmapped: kept
    tag_names = {t["name"] for t in md["tags"]}
    assert {"energia", "Comune"} <= tag_names


def test_preview_of_a_feed_url(site_config: Path, data_dir: Path, httpserver: object) -> None:
    from pytest_httpserver import HTTPServer

    assert isinstance(httpserver, HTTPServer)
    body = (data_dir / "feeds" / "wordpress.xml").read_bytes()
    httpserver.expect_request("/feed/").respond_with_data(body, content_type="application/rss+xml")
    url = httpserver.url_for("/feed/")
    env = {"RASSEGNA_INGEST__ALLOW_PRIVATE_NETWORKS": "true"}
    result = run_cli("--config", str(site_config), "preview", url, "--json", env=env)
    assert result.returncode == 0, result.stderr
    articles = json.loads(result.stdout)
    import feedparser

    expected = [e.title for e in feedparser.parse(body).entries]
    assert len(articles) == len(expected) >= 2
    assert all(a["title"] and a["slug"] and a["published"] for a in articles)
    assert not (site_config.parent / "var" / "rassegna.db").exists()
    refused = run_cli("--config", str(site_config), "preview", url)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
