"""Every invalid configuration value and every bad argument: exit 1 (config) or 2
(usage), one sentence naming the key or argument, no traceback without --verbose.

Every case runs the real command-line app in-process (typer's CliRunner: the same code,
without paying a Python start-up per case); a few run again as real `python -m rassegna`
subprocesses, to see exactly what a user's terminal shows."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import DATA, invoke_app, run_cli

BASE = """
[site]
title = "Prova"
base_url = "http://127.0.0.1:8080/"

[[sources]]
name = "Articoli"
kind = "files"
path = "articoli"
"""

# (id, config text, words the one sentence must contain)
CONFIG_CASES: list[tuple[str, str, tuple[str, ...]]] = [
    ("not-toml", "[site\ntitle = 1", ("not valid TOML",)),
    ("unknown-section", BASE + "[sito]\ntitle = 'x'\n", ("sito",)),
    ("unknown-key", BASE.replace("[site]", "[site]\ntitolo = 'x'"), ("site.titolo", "unknown key")),
    ("site-link", BASE.replace("[site]", "[site]\nlink = 'ftp://x'"), ("site.link",)),
    (
        "site-base-url",
        BASE.replace('base_url = "http://127.0.0.1:8080/"', 'base_url = "127.0.0.1"'),
        ("site.base_url",),
    ),
    (
        "site-timezone",
        BASE.replace("[site]", "[site]\ntimezone = 'Europe/Roma'"),
        ("site.timezone", "Europe/Roma"),
    ),
    ("site-title-type", BASE.replace('title = "Prova"', "title = 12"), ("site.title",)),
    ("output-items", BASE + "[output]\nitems_per_feed = 0\n", ("output.items_per_feed",)),
    (
        "output-items-type",
        BASE + "[output]\nitems_per_feed = 'molti'\n",
        ("output.items_per_feed",),
    ),
    ("output-min-tag", BASE + "[output]\nmin_tag_articles = -1\n", ("output.min_tag_articles",)),
    ("scheduler-interval", BASE + "[scheduler]\ninterval = '10 minuti'\n", ("scheduler.interval",)),
    ("scheduler-interval-zero", BASE + "[scheduler]\ninterval = '0s'\n", ("scheduler.interval",)),
    ("scheduler-interval-bool", BASE + "[scheduler]\ninterval = true\n", ("scheduler.interval",)),
    ("scheduler-workers", BASE + "[scheduler]\nworkers = 0\n", ("scheduler.workers",)),
    ("scheduler-workers-big", BASE + "[scheduler]\nworkers = 1000\n", ("scheduler.workers",)),
    ("server-port", BASE + "[server]\nport = 70000\n", ("server.port",)),
    ("server-enabled", BASE + "[server]\nenabled = 'forse'\n", ("server.enabled",)),
    ("ingest-max-bytes", BASE + "[ingest]\nmax_bytes = 10\n", ("ingest.max_bytes",)),
    (
        "ingest-private",
        BASE + "[ingest]\nallow_private_networks = 'sì'\n",
        ("ingest.allow_private_networks",),
    ),
    (
        "source-kind",
        BASE.replace('kind = "files"', 'kind = "cartella"'),
        ("sources[0].kind", "cartella"),
    ),
    ("source-no-name", BASE.replace('name = "Articoli"\n', ""), ("sources[0].name",)),
    ("source-empty-name", BASE.replace('name = "Articoli"', 'name = ""'), ("sources[0].name",)),
    (
        "source-missing-path",
        BASE.replace('path = "articoli"', 'path = "non-esiste"'),
        ("sources[0].path", "non-esiste"),
    ),
    ("source-no-path", BASE.replace('path = "articoli"\n', ""), ("sources[0]", "path")),
    (
        "source-feed-url",
        BASE + '[[sources]]\nname = "F"\nkind = "feed"\nurl = "gopher://x"\n',
        ("sources[1]", "gopher://x"),
    ),
    (
        "source-page-no-url",
        BASE + '[[sources]]\nname = "P"\nkind = "page"\n',
        ("sources[1]", "url"),
    ),
    (
        "source-interval",
        BASE.replace('path = "articoli"', 'path = "articoli"\ninterval = "spesso"'),
        ("sources[0].interval",),
    ),
    (
        "source-link-pattern",
        BASE + '[[sources]]\nname = "P"\nkind = "page"\nurl = "http://x/"\nlink_pattern = "(["\n',
        ("sources[1].link_pattern",),
    ),
    (
        "source-duplicate",
        BASE + '[[sources]]\nname = "Articoli"\nkind = "files"\npath = "articoli"\n',
        ("sources[1].name", "Articoli"),
    ),
    ("database-url", BASE + '[database]\nurl = "mysql://nessuno@localhost/db"\n', ("mysql",)),
    ("not-utf8", "[site]\ntitle = 'Citt\xe0'\n", ("UTF-8",)),
]
CONFIG_IDS = [case[0] for case in CONFIG_CASES]

# (id, arguments, exit code, words)
ARGUMENT_CASES: list[tuple[str, list[str], int, tuple[str, ...]]] = [
    ("unknown-command", ["pubblica"], 2, ("pubblica",)),
    ("unknown-option", ["ingest", "--tutto"], 2, ("--tutto",)),
    ("articles-bad-number", ["articles", "-n", "dieci"], 2, ("--limit",)),
    ("missing-config-file", ["--config", "/non/esiste.toml", "check"], 1, ("/non/esiste.toml",)),
    ("unknown-source", ["ingest", "Inesistente"], 1, ("Inesistente",)),
    ("missing-path", ["ingest", "/non/esiste/articolo.txt"], 1, ("/non/esiste/articolo.txt",)),
    ("bad-url", ["ingest", "http://"], 1, ("http://",)),
    ("db-unknown", ["db", "cancella"], 2, ("cancella",)),
]
ARGUMENT_IDS = [case[0] for case in ARGUMENT_CASES]


@dataclass
class Outcome:
    returncode: int
    stderr: str


def _run(args: list[str]) -> Outcome:
    result = invoke_app(args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # an uncaught exception is a traceback for the user
    return Outcome(result.exit_code, result.stderr)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("cli-errors")
    found: dict[str, Outcome] = {}
    for name, text, _ in CONFIG_CASES:
        folder = root / name
        shutil.copytree(DATA / "articoli", folder / "articoli")
        path = folder / "rassegna.toml"
        path.write_bytes(text.encode("latin-1") if name == "not-utf8" else text.encode())
        found[name] = _run(["--config", str(path), "check"])
    for name, args, _, _ in ARGUMENT_CASES:
        folder = root / f"arg-{name}"
        shutil.copytree(DATA / "articoli", folder / "articoli")
        (folder / "rassegna.toml").write_text(BASE, encoding="utf-8")
        config = [] if args[0] == "--config" else ["--config", str(folder / "rassegna.toml")]
        found[f"arg-{name}"] = _run([*config, *args])
    return found


def _one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    # Usage errors come in Click's framed box; a traceback (plain or rich) never does.
    assert "Traceback" not in stderr, stderr
    return " ".join(line.strip(" │") for line in lines)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=CONFIG_IDS)
def test_invalid_config_value(
    results: dict[str, Outcome], case: tuple[str, str, tuple[str, ...]]
) -> None:
    result = results[case[0]]
    assert result.returncode == 1, (result.returncode, result.stderr)
    message = _one_sentence(result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "rassegna.toml" in message or "database" in message, message
    for word in case[2]:
        assert word in message, message


@pytest.mark.parametrize("case", ARGUMENT_CASES, ids=ARGUMENT_IDS)
def test_bad_argument(
    results: dict[str, Outcome],
    case: tuple[str, list[str], int, tuple[str, ...]],
) -> None:
    result = results[f"arg-{case[0]}"]
    assert result.returncode == case[2], (result.returncode, result.stderr)
    message = _one_sentence(result.stderr)
    for word in case[3]:
        assert word in message, message


@pytest.mark.parametrize(
    ("text", "args", "code"),
    [
        (BASE.replace('kind = "files"', 'kind = "cartella"'), ["check"], 1),
        (BASE + "[scheduler]\ninterval = '10 minuti'\n", ["ingest", "--all"], 1),
        (BASE, ["ingest", "--tutto"], 2),
    ],
)
def test_real_process_prints_no_traceback(
    tmp_path: Path, text: str, args: list[str], code: int
) -> None:
    path = tmp_path / "rassegna.toml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "articoli").mkdir()
    result = run_cli("--config", str(path), *args)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if code == 1:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_verbose_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "rassegna.toml"
    path.write_text(BASE.replace('kind = "files"', 'kind = "cartella"'), encoding="utf-8")
    (tmp_path / "articoli").mkdir()
    result = run_cli("--verbose", "--config", str(path), "check")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "cartella" in result.stderr
