"""Configuration: the shipped file is valid, and each kind of mistake is one clear sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from rassegna.config import find_config, load_settings
from rassegna.errors import ConfigError
from tests.conftest import REPO, write_config

MINIMAL = """
[site]
title = "Prova"

[[sources]]
name = "Locale"
kind = "files"
path = "articoli"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "articoli").mkdir()
    return tmp_path


def test_shipped_config_is_valid_and_points_at_examples() -> None:
    settings = load_settings(REPO / "config" / "rassegna.toml", environ={})
    assert settings.site.language == "it"
    assert settings.site.timezone == "Europe/Rome"
    assert settings.database_url == f"sqlite:///{REPO / 'var' / 'rassegna.db'}"
    assert settings.output.dir == REPO / "var" / "public"
    paths = [s.path for s in settings.sources]
    assert paths and all(p is not None and REPO / "examples" in p.parents for p in paths)
    assert settings.server.port == 8080


def test_relative_paths_are_read_from_the_config_folder(folder: Path) -> None:
    settings = load_settings(write_config(folder, MINIMAL), environ={})
    assert settings.sources[0].path == folder / "articoli"
    assert settings.state.dir == (folder / "var").resolve()
    assert settings.database_url == f"sqlite:///{(folder / 'var').resolve() / 'rassegna.db'}"


def test_defaults(folder: Path) -> None:
    settings = load_settings(write_config(folder, MINIMAL), environ={})
    assert settings.output.items_per_feed == 50
    assert settings.scheduler.interval == 600
    assert settings.scheduler.workers == 4
    assert settings.interval_of(settings.sources[0]) == 600


def _error(folder: Path, body: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(folder, body), environ=environ or {})
    message = caught.value.message
    assert "\n" not in message
    return message


THIRD_SOURCE_EVERY_TEN_MINUTES = """
[[sources]]
name = "Due"
kind = "files"
path = "articoli"

[[sources]]
name = "Tre"
kind = "files"
path = "articoli"
interval = "ten minutes"
"""


# A mistake in the file, by name: the file with it, and the sentence naming it after the
# file's path ("{folder}" stands for the config's folder).
MISTAKES = {
    "bad-duration-names-file-and-key": (
        MINIMAL + THIRD_SOURCE_EVERY_TEN_MINUTES,
        'sources[2].interval: "ten minutes" is not a duration like "10m"',
    ),
    "unknown-key": (
        MINIMAL.replace('title = "Prova"', 'title = "Prova"\ntitel = "x"'),
        "site.titel: unknown key",
    ),
    "missing-path": (
        MINIMAL.replace('path = "articoli"', 'path = "manca"'),
        'sources[0].path: "{folder}/manca" does not exist',
    ),
    "missing-required-key": (
        MINIMAL.replace('name = "Locale"\n', ""),
        "sources[0].name: required key is missing",
    ),
    "duplicate-source-name": (
        MINIMAL + '\n[[sources]]\nname = "Locale"\nkind = "files"\npath = "articoli"\n',
        'sources[1].name: "Locale" is already the name of sources[0]',
    ),
}


@pytest.mark.parametrize(("body", "sentence"), MISTAKES.values(), ids=MISTAKES.keys())
def test_mistake_is_one_sentence_naming_file_and_key(
    folder: Path, body: str, sentence: str
) -> None:
    message = _error(folder, body)
    assert message == f"{folder / 'rassegna.toml'}: {sentence.format(folder=folder)}"


def test_unknown_section(folder: Path) -> None:
    assert _error(folder, "[sito]\ntitle = 'x'\n").endswith("sito: unknown key")


def test_wrong_type(folder: Path) -> None:
    message = _error(folder, MINIMAL + "\n[server]\nport = 'ottanta'\n")
    assert message.startswith(f"{folder / 'rassegna.toml'}: server.port: 'ottanta' is not valid")


def test_bad_kind(folder: Path) -> None:
    message = _error(folder, MINIMAL.replace('kind = "files"', 'kind = "cartella"'))
    assert message.startswith(f'{folder / "rassegna.toml"}: sources[0].kind: "cartella"')
    assert "files" in message and "feed" in message


def test_bad_timezone(folder: Path) -> None:
    message = _error(folder, MINIMAL.replace('title = "Prova"', 'timezone = "Europa/Roma"'))
    assert "site.timezone" in message and "Europa/Roma" in message


def test_not_toml(folder: Path) -> None:
    assert "not valid TOML" in _error(folder, "[site\n")


def test_environment_overrides(folder: Path) -> None:
    settings = load_settings(
        write_config(folder, MINIMAL),
        environ={
            "RASSEGNA_SERVER__PORT": "9123",
            "RASSEGNA_SITE__TITLE": "Dall'ambiente",
            "RASSEGNA_SCHEDULER__INTERVAL": "2h",
            "RASSEGNA_SERVER__ENABLED": "false",
            "RASSEGNA_CONFIG": "ignored, not a SECTION__KEY variable",
        },
    )
    assert settings.server.port == 9123
    assert settings.server.enabled is False
    assert settings.site.title == "Dall'ambiente"
    assert settings.scheduler.interval == 7200


def test_environment_errors_name_the_variable(folder: Path) -> None:
    message = _error(folder, MINIMAL, environ={"RASSEGNA_SERVER__PORT": "alto"})
    assert message.startswith("environment RASSEGNA_SERVER__PORT: server.port:")
    message = _error(folder, MINIMAL, environ={"RASSEGNA_SERVERS__PORT": "1"})
    assert message.startswith("environment RASSEGNA_SERVERS__PORT:")


def test_find_config_explicit_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        find_config(str(tmp_path / "nope.toml"))


def test_find_config_default_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "rassegna.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert find_config(None) == Path("config/rassegna.toml")


def test_normalize_section(folder: Path) -> None:
    body = (
        MINIMAL + '\n[normalize]\nauto_tags = true\n\n[normalize.categories]\n"Mondo" = "Esteri"\n'
    )
    settings = load_settings(write_config(folder, body), environ={})
    assert settings.normalize.auto_tags is True
    assert settings.normalize.categories == {"Mondo": "Esteri"}
    off = load_settings(
        write_config(folder, body), environ={"RASSEGNA_NORMALIZE__AUTO_TAGS": "false"}
    )
    assert off.normalize.auto_tags is False
    shipped = load_settings(REPO / "config" / "rassegna.toml", environ={})
    assert shipped.normalize.categories["Mondo"] == "Esteri"


def test_page_settings(folder: Path) -> None:
    (folder / "modelli").mkdir()
    body = MINIMAL + '\n[output]\ntemplates = "modelli"\nremote_pages = "excerpt"\n'
    settings = load_settings(write_config(folder, body), environ={})
    assert settings.output.templates == folder / "modelli"
    assert settings.output.remote_pages == "excerpt"
    message = _error(folder, body.replace('"modelli"', '"mancano"'))
    assert message == (
        f'{folder / "rassegna.toml"}: output.templates: "{folder / "mancano"}" does not exist'
    )
    message = _error(folder, body.replace('"excerpt"', '"tutto"'))
    assert message.startswith(f'{folder / "rassegna.toml"}: output.remote_pages: "tutto"')
