"""`rassegna rules test`, `rules apply` (and `--undo`) and the keep-rule warning of
`rassegna check`, run as real subprocesses on SQLite and PostgreSQL; the published feed is
read back to see hidden articles leave it and come back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import httpx
import pytest
from sqlalchemy import create_engine, text

from db.store import Store
from rassegna.config import load_settings
from rassegna.operations import search_feed
from rassegna.server import BackgroundServer, app_for
from tests.conftest import free_port, pg_schema, run_cli, write_config
from tests.remote_helpers import rss_item

TITLES = [
    "Oroscopo della settimana: le stelle di dicembre",
    "La giunta approva il bilancio della città",
    "Nuove piste ciclabili in periferia",
]


def _feed(now: datetime) -> str:
    items = "".join(
        rss_item(
            f"https://esempio.it/a/{n}",
            title,
            format_datetime(now - timedelta(days=n + 1)),
            f"<p>Testo dell'articolo numero {n}, scritto per la prova.</p>",
        )
        for n, title in enumerate(TITLES)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Prova</title><link>https://esempio.it/</link><description>x</description>"
        f"{items}</channel></rss>"
    )


BASE = """
[site]
base_url = "http://127.0.0.1:8080/"

[output]
dir = "public"
archive_page_size = 1

[state]
dir = "state"

[[sources]]
name = "Notizie"
kind = "feed"
path = "feed.xml"
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Environment for the subprocesses: nothing (SQLite in the state folder) or a fresh
    PostgreSQL schema."""
    if request.param == "sqlite":
        yield {}
        return
    with pg_schema(request.getfixturevalue("pg_url")) as url:
        yield {"RASSEGNA_DATABASE__URL": url}


def _cli(config: Path, env: dict[str, str], *args: str) -> str:
    result = run_cli("--config", str(config), *args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _published_titles(folder: Path) -> set[str]:
    parsed = feedparser.parse((folder / "public" / "rss.xml").read_bytes())
    return {entry.title for entry in parsed.entries}


def _archived_titles(folder: Path) -> list[str]:
    """The titles of the root feed's archive pages, oldest page first."""
    pages = sorted(
        (folder / "public" / "archivio").glob("*/feed.json"), key=lambda p: int(p.parent.name)
    )
    return [
        item["title"] for page in pages for item in json.loads(page.read_text("utf-8"))["items"]
    ]


def _hidden(config: Path, env: dict[str, str]) -> int:
    url = env.get("RASSEGNA_DATABASE__URL") or f"sqlite:///{config.parent / 'state/rassegna.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(text("SELECT count(*) FROM articles WHERE hidden")).one()[0]
            )
    finally:
        engine.dispose()


def test_rules_test_apply_and_undo(tmp_path: Path, database: dict[str, str]) -> None:
    (tmp_path / "feed.xml").write_text(_feed(datetime.now(UTC)), "utf-8")
    config = write_config(tmp_path, BASE)
    _cli(config, database, "ingest", "--all")
    assert _published_titles(tmp_path) == set(TITLES)

    write_config(
        tmp_path,
        BASE
        + """
[[rules]]
name = "niente oroscopo"
action = "block"
title = "oroscopo"

[[rules]]
action = "block"
text = "articolo numero 2"
older_than = "1d"
""",
    )
    rows = json.loads(_cli(config, database, "rules", "test", "--json"))
    by_title = {row["title"]: row for row in rows}
    assert set(by_title) == set(TITLES)
    assert by_title[TITLES[0]]["action"] == "block"
    assert by_title[TITLES[0]]["rule"] == 'rules[0] "niente oroscopo"'
    assert by_title[TITLES[1]] | {"id": 0, "published": "", "url": ""} == {
        "id": 0,
        "published": "",
        "url": "",
        "source": "Notizie",
        "title": TITLES[1],
        "action": "keep",
        "rule": None,
        "reason": "no rule applies",
        "hidden": False,
    }
    assert by_title[TITLES[2]]["reason"] == "blocked by rules[1]"
    # --since narrows the articles looked at.
    recent = json.loads(_cli(config, database, "rules", "test", "--json", "--since", "36h"))
    assert [row["title"] for row in recent] == [TITLES[0]]
    table = _cli(config, database, "rules", "test", "--source", "notizie")
    assert "3 articles: 1 kept, 2 blocked" in table
    assert _hidden(config, database) == 0  # test changes nothing

    out = _cli(config, database, "rules", "apply")
    assert "2 articles hidden" in out
    assert _hidden(config, database) == 2
    assert _published_titles(tmp_path) == {TITLES[1]}
    assert _archived_titles(tmp_path) == [TITLES[1]]  # written archive pages lose them too
    rows = json.loads(_cli(config, database, "rules", "test", "--json"))
    assert sorted(row["hidden"] for row in rows) == [False, True, True]

    out = _cli(config, database, "rules", "apply", "--undo")
    assert "2 articles shown again" in out
    assert _hidden(config, database) == 0
    assert _published_titles(tmp_path) == set(TITLES)
    assert sorted(_archived_titles(tmp_path)) == sorted(TITLES)


OROSCOPO = """
[[rules]]
action = "block"
title = "oroscopo"
"""


def test_cached_search_feed_follows_apply_and_undo_run_elsewhere(
    tmp_path: Path, database: dict[str, str]
) -> None:
    """The server's `/cerca` answers are cached; `rules apply` and `--undo`, run by another
    process, change what the next request of the same query answers although no article
    arrived."""
    (tmp_path / "feed.xml").write_text(_feed(datetime.now(UTC)), "utf-8")
    config = write_config(tmp_path, BASE)
    _cli(config, database, "ingest", "--all", "--no-build")
    write_config(tmp_path, BASE + OROSCOPO)
    settings = load_settings(config, environ=database)
    store = Store.open(settings.database_url)
    server = BackgroundServer(
        app_for(settings, search=search_feed(settings, store)), "127.0.0.1", free_port()
    )
    server.start()

    def found() -> set[str]:
        answer = httpx.get(f"http://127.0.0.1:{server.port}/cerca", params={"q": "scritto"})
        assert answer.status_code == 200
        return {entry.title for entry in feedparser.parse(answer.content).entries}

    try:
        assert found() == set(TITLES)
        assert "1 articles hidden" in _cli(config, database, "rules", "apply")
        assert found() == set(TITLES[1:])
        assert found() == set(TITLES[1:])  # from the cache
        assert "1 articles shown again" in _cli(config, database, "rules", "apply", "--undo")
        assert found() == set(TITLES)
    finally:
        server.stop()
        store.close()


def test_check_warns_when_keep_rules_block_every_recent_article(
    tmp_path: Path, database: dict[str, str]
) -> None:
    (tmp_path / "feed.xml").write_text(_feed(datetime.now(UTC)), "utf-8")
    config = write_config(tmp_path, BASE)
    _cli(config, database, "ingest", "--all")
    assert "warning" not in _cli(config, database, "check")
    write_config(
        tmp_path,
        BASE + '\n[[rules]]\naction = "keep"\nsources = ["Notizie"]\ntitle = "citta"\n',
    )
    assert "warning" not in _cli(config, database, "check")  # "città" is kept
    write_config(
        tmp_path,
        BASE + '\n[[rules]]\naction = "keep"\nsources = ["Notizie"]\ntitle = "calcio"\n',
    )
    out = _cli(config, database, "check")
    assert (
        'warning: source "Notizie": its keep rules would have blocked all of its 3 articles'
        " of the last 30 days" in out
    )


def test_bad_since_is_bad_usage(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(_feed(datetime.now(UTC)), "utf-8")
    config = write_config(tmp_path, BASE)
    result = run_cli("--config", str(config), "rules", "test", "--since", "presto")
    assert result.returncode == 2
    assert "--since" in result.stderr


def test_sources_shows_blocked_counts(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(_feed(datetime.now(UTC)), "utf-8")
    config = write_config(tmp_path, BASE + '\n[[rules]]\naction = "block"\ntitle = "oroscopo"\n')
    first = run_cli("--config", str(config), "ingest", "--all")
    assert first.returncode == 0, first.stderr
    assert '"Oroscopo della settimana: le stelle di dicembre" not stored, blocked by rules[0]' in (
        first.stderr
    )
    [row] = json.loads(_cli(config, {}, "sources", "--json"))
    assert (row["articles"], row["blocked"]) == (2, 1)
    assert "blocked" in _cli(config, {}, "sources")
