"""Every RSS and Atom file a build writes passes the W3C Feed Validation Service with no
error and no warning (`tests/validator.py`): over a varied fixture set built through the
CLI, and over the bundled examples with the default configuration (what `make run`
publishes).

The fixture set (`tests/data/validazione/`) has a files source, an RSS and an Atom feed
source; between them: every section kind (categoria, fonte, tag, tema, autore), archive
pages, an empty topic, authors, enclosures, items with and without a URL of their own,
with and without summary or content (some whose content is empty or sanitized away),
and items sharing a date (files copied within one tick of the clock, feed items with the
same `pubDate`). The first test checks that the build really has all of that, so the
validation cannot pass by losing a case.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from db.store import Store
from tests.conftest import DATA, REPO, run_cli, write_config
from tests.validator import feed_files, require_validator, validate_output

BASE = "https://rassegna.example.it/"
ATOM = {"a": "http://www.w3.org/2005/Atom"}

CONFIG = f"""
[site]
title = "Rassegna di prova"
link = "{BASE}"
base_url = "{BASE}"
description = "Notizie di prova per il validatore dei feed"

[state]
dir = "var"

[output]
dir = "public"
items_per_feed = 4
min_tag_articles = 2
author_feeds = true
min_author_articles = 2
archive = true
archive_page_size = 3

[[sources]]
name = "Redazione cittadina"
kind = "files"
path = "redazione"
category = "Cronaca"

[[sources]]
name = "Agenzia regionale"
kind = "feed"
path = "agenzia.xml"

[[sources]]
name = "Notiziario del lago"
kind = "feed"
path = "notiziario.atom"

[[topics]]
name = "Scuola"
query = "scuola"

[[topics]]
name = "Vulcani"
query = "vulcano"
"""


def _cli(config: Path, *args: str, env: dict[str, str] | None = None) -> None:
    done = run_cli("--config", str(config), *args, env=env)
    assert done.returncode == 0, f"rassegna {' '.join(args)} failed:\n{done.stderr}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The fixture set ingested and built by the CLI; the output folder."""
    root = tmp_path_factory.mktemp("validazione")
    # Plain copies, not copy2: the files get fresh modification times, written within a
    # tick of the clock as when several files are dropped into a folder at once.
    shutil.copytree(DATA / "validazione", root, dirs_exist_ok=True, copy_function=shutil.copy)
    config = write_config(root, CONFIG)
    _cli(config, "ingest", "--all")
    _cli(config, "build")
    yield root / "public"


def _entries(out_dir: Path) -> list[etree._Element]:
    entries: list[etree._Element] = []
    for path in out_dir.rglob("atom.xml"):
        entries += etree.parse(str(path)).getroot().findall("a:entry", ATOM)
    return entries


def test_the_fixture_build_has_every_case(built: Path) -> None:
    for kind in ("categoria", "fonte", "tag", "tema", "autore"):
        assert list((built / kind).glob("*/rss.xml")), f"no {kind} feed"
        assert list((built / kind).glob("*/atom.xml")), f"no {kind} feed"
    assert list(built.glob("**/archivio/*/atom.xml")), "no archive page"
    assert (built / "archivio" / "1" / "rss.xml").exists()
    empty_topic = etree.parse(str(built / "tema" / "vulcani" / "atom.xml")).getroot()
    assert empty_topic.findall("a:entry", ATOM) == []

    entries = _entries(built)
    by_id = {e.findtext("a:id", namespaces=ATOM): e for e in entries}
    assert len(by_id) == 17, "every fixture article is published"

    def alternate(entry: etree._Element) -> str | None:
        for link in entry.findall("a:link", ATOM):
            if link.get("rel") in (None, "alternate"):
                return link.get("href")
        return None

    unique = list(by_id.values())
    # An item without a URL of its own links to its page here (never the home page).
    local = [e for e in unique if (alternate(e) or "").startswith(f"{BASE}articoli/")]
    assert local, "an item without a URL of its own"
    assert all(alternate(e) != BASE for e in unique)
    assert any(not (alternate(e) or "").startswith(BASE) for e in unique), "an item with its URL"
    assert any(e.find("a:link[@rel='enclosure']", ATOM) is not None for e in unique)
    assert any(e.find("a:content", ATOM) is None for e in unique), "an item without content"
    assert any(e.find("a:content", ATOM) is not None for e in unique), "an item with content"
    assert any(
        e.findtext("a:summary", namespaces=ATOM) == e.findtext("a:title", namespaces=ATOM)
        for e in unique
    ), "an item with neither summary nor text"
    assert any(e.find("a:author", ATOM) is not None for e in unique)

    # Articles sharing a stored date to the microsecond (the case the validator warned
    # about): the copied files, and the feed items with one pubDate.
    store = Store.open(f"sqlite:///{built.parent / 'var' / 'rassegna.db'}")
    try:
        dates = [a.updated for a in store.latest_articles(100)]
    finally:
        store.close()
    assert len(dates) == 17
    assert len(set(dates)) < len(dates), "no two articles share a date: the case is lost"


def test_every_feed_of_the_fixture_build_is_valid(built: Path) -> None:
    require_validator()
    files = feed_files(built)
    assert len(files) >= 40, [str(f.relative_to(built)) for f in files]
    assert validate_output(built, BASE) == {}


def test_the_examples_built_with_the_default_config_are_valid(tmp_path: Path) -> None:
    """What `make run` publishes: examples/ ingested with config/rassegna.toml."""
    require_validator()
    out = tmp_path / "var" / "public"
    env = {
        "RASSEGNA_STATE__DIR": str(tmp_path / "var"),
        "RASSEGNA_OUTPUT__DIR": str(out),
    }
    config = REPO / "config" / "rassegna.toml"
    _cli(config, "ingest", "--all", env=env)
    _cli(config, "build", env=env)
    assert len(feed_files(out)) >= 10
    assert validate_output(out, "http://127.0.0.1:8080/") == {}


def test_feeds_built_from_the_test_feed_corpus_are_valid(tmp_path: Path) -> None:
    """Every feed of tests/data/feeds (encodings, RSS 0.91 to JSON Feed, broken and
    hostile ones) as a source, with every section kind and archives: what other sites
    send passes through to valid feeds."""
    require_validator()
    sources = sorted(p for p in (DATA / "feeds").iterdir() if p.is_file())
    config = CONFIG.split("[[sources]]", 1)[0]  # the site and output settings
    for path in sources:
        config += f'\n[[sources]]\nname = "{path.stem}"\nkind = "feed"\npath = "{path}"\n'
    config += '\n[[topics]]\nname = "Tutto"\nquery = "il OR la OR di"\n'
    config_path = write_config(tmp_path, config)
    # Some fixtures are meant to fail (a skipped entry makes `ingest` exit 1): the build
    # publishes whatever was stored.
    run_cli("--config", str(config_path), "ingest", "--all")
    _cli(config_path, "build")
    out = tmp_path / "public"
    assert len(list((out / "fonte").iterdir())) >= len(sources) - 4  # some are duplicates
    assert validate_output(out, BASE) == {}
