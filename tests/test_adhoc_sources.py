"""Ad-hoc ingests (`rassegna ingest PATH` outside the configured sources) and removing
sources: no server path is ever published, `--source` names the source, `rassegna sources`
tells ad-hoc and dropped sources apart, `rassegna sources remove` takes them away. Real
subprocesses, a real SQLite file, the published files read back."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import feedparser

from db.store import Store, label_slug
from tests.conftest import run_cli, write_config
from tests.old_rows import insert_old_source, old_database


def _article(folder: Path, name: str, title: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        f"{title}\nUn sommario di prova per la rassegna.\n\n"
        "Il consiglio comunale ha discusso a lungo il nuovo regolamento.\n",
        encoding="utf-8",
    )
    return path


def _ok(*args: str) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return result


def _published(out: Path) -> dict[str, str]:
    """Every file of the output folder as text (gzip twins decompressed), by its path."""
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            files[path.relative_to(out).as_posix()] = data.decode("utf-8", errors="replace")
    return files


def test_no_server_path_is_published(site_config: Path, tmp_path: Path) -> None:
    config = str(site_config)
    state = tmp_path / "var"
    _ok("--config", config, "ingest", "--all")
    _article(tmp_path / "altrove", "uno.txt", "Notizia da una cartella qualsiasi")
    _article(tmp_path / "comunicati", "due.txt", "Comunicato sul nuovo orario estivo")
    single = _article(tmp_path / "sparsi", "tre.txt", "Un articolo arrivato da solo")
    logged = _ok("--config", config, "ingest", str(tmp_path / "altrove")).stderr
    assert 'ad-hoc source "altrove", the folder\'s name' in logged
    _ok("--config", config, "ingest", str(tmp_path / "comunicati"), "--source", "Comunicati")
    _ok("--config", config, "ingest", str(single))
    _ok("--config", config, "build")
    out = state / "public"
    files = _published(out)
    assert len(files) > 20
    folders = [site_config.parent / "articoli", tmp_path / "altrove", tmp_path / "comunicati"]
    folders += [tmp_path / "sparsi", state, tmp_path]
    for folder in folders:
        for form in {str(folder), str(folder.resolve())}:
            slug = label_slug(form)
            for name, text in files.items():
                assert form not in text, (form, name)
                assert slug not in name and slug not in text, (slug, name)
    sections = {name.split("/")[1] for name in files if name.startswith("fonte/")}
    assert sections == {"articoli-di-prova", "altrove", "comunicati", "sparsi"}
    feed = feedparser.parse(files["rss.xml"].encode())
    assert len(feed.entries) == 6


def test_source_option_keeps_the_identity_of_a_source(site_config: Path, tmp_path: Path) -> None:
    config = str(site_config)
    first = _article(tmp_path / "comunicati", "uno.txt", "Comunicato sulla raccolta differenziata")
    _ok("--config", config, "ingest", str(first.parent), "--source", "Comunicati")
    # One file of that folder, edited: the same article, changed (its guid is kept).
    first.write_text(first.read_text(encoding="utf-8") + "Un paragrafo in più.\n", "utf-8")
    again = _ok("--config", config, "ingest", str(first), "--source", "Comunicati").stdout
    assert "Comunicati: 0 new, 1 changed" in again
    # The folder moved: with --source its files are the same articles.
    moved = tmp_path / "archivio" / "comunicati-2026"
    moved.parent.mkdir()
    shutil.move(first.parent, moved)
    after = _ok("--config", config, "ingest", str(moved), "--source", "Comunicati").stdout
    assert "Comunicati: 0 new, 0 changed, 1 unchanged" in after
    articles = json.loads(_ok("--config", config, "articles", "--json").stdout)
    assert [a["source_name"] for a in articles].count("Comunicati") == 1
    # Without --source, a second folder of the same name is not merged into the first.
    _article(tmp_path / "a" / "notizie", "due.txt", "Un altro comunicato del sindaco")
    _article(tmp_path / "b" / "notizie", "tre.txt", "Un terzo comunicato della giunta")
    _ok("--config", config, "ingest", str(tmp_path / "a" / "notizie"))
    clash = run_cli("--config", config, "ingest", str(tmp_path / "b" / "notizie"))
    assert clash.returncode == 1
    assert 'a source named "notizie" already reads another folder' in clash.stderr
    # A configured source reads its own folder only.
    outside = run_cli("--config", config, "ingest", str(moved), "--source", "Articoli di prova")
    assert outside.returncode == 1
    assert 'source "Articoli di prova" is configured in' in outside.stderr
    two = run_cli("--config", config, "ingest", str(moved), str(first), "--source", "X")
    assert two.returncode == 2 and "--source goes with exactly one path or URL" in two.stderr


def test_sources_lists_and_removes_ad_hoc_and_dropped_sources(tmp_path: Path) -> None:
    _article(tmp_path / "cronaca", "uno.txt", "Cronaca del mattino in città")
    _article(tmp_path / "sport", "due.txt", "La squadra vince il derby")
    _article(tmp_path / "altrove", "tre.txt", "Notizia da una cartella qualsiasi")
    both = """
[site]
title = "Prova"
base_url = "http://127.0.0.1:8080/"

[[sources]]
name = "Cronaca"
kind = "files"
path = "cronaca"
"""
    sport = '\n[[sources]]\nname = "Sport"\nkind = "files"\npath = "sport"\n'
    config = str(write_config(tmp_path, both + sport))
    _ok("--config", config, "ingest", "--all")
    _ok("--config", config, "ingest", str(tmp_path / "altrove"))
    write_config(tmp_path, both)  # Sport is dropped from the configuration
    rows = json.loads(_ok("--config", config, "sources", "--json").stdout)
    assert [(r["name"], r["origin"], r["articles"]) for r in rows] == [
        ("Cronaca", "configured", 1),
        ("Sport", "dropped", 1),
        ("altrove", "ad-hoc", 1),
    ]
    table = run_cli("--config", config, "sources", env={"COLUMNS": "200"}).stdout
    assert "ad-hoc, not polled" in table and "dropped, not polled" in table
    configured = run_cli("--config", config, "sources", "remove", "Cronaca", "--articles")
    assert configured.returncode == 1
    assert 'source "Cronaca" is configured in' in configured.stderr
    assert "remove its [[sources]] table there first" in configured.stderr
    keep = run_cli("--config", config, "sources", "remove", "altrove")
    assert keep.returncode == 1
    assert 'source "altrove" still has 1 articles; add --articles' in keep.stderr
    unknown = run_cli("--config", config, "sources", "remove", "Nessuna")
    assert unknown.returncode == 1 and 'no source named "Nessuna"' in unknown.stderr
    out = tmp_path / "var" / "public"
    assert (out / "fonte" / "altrove" / "rss.xml").exists()
    removed = _ok("--config", config, "sources", "remove", "altrove", "--articles").stdout
    assert 'source "altrove" removed with 1 articles' in removed
    _ok("--config", config, "sources", "remove", "Sport", "--articles")
    assert not (out / "fonte" / "altrove").exists() and not (out / "fonte" / "sport").exists()
    titles = [e.title for e in feedparser.parse((out / "rss.xml").read_bytes()).entries]
    assert titles == ["Cronaca del mattino in città"]
    rows = json.loads(_ok("--config", config, "sources", "--json").stdout)
    assert [r["name"] for r in rows] == ["Cronaca"]


def test_upgrade_marks_sources_named_by_path_or_url_as_ad_hoc(bare_url: str) -> None:
    engine, tables = old_database(bare_url, "0009")
    when = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    rows = [
        ("/srv/comunicati", "srv-comunicati", "files", "/srv/comunicati"),
        ("https://esempio.it/feed", "esempio-it-feed", "feed", "https://esempio.it/feed"),
        ("Cronaca", "cronaca", "files", "/srv/cronaca"),
    ]
    with engine.begin() as connection:
        for name, slug, kind, location in rows:
            insert_old_source(
                connection,
                tables["sources"],
                name=name,
                slug=slug,
                kind=kind,
                location=location,
                created_at=when,
            )
    engine.dispose()
    store = Store.open(bare_url)  # migrates to head
    try:
        states = {s.name: s.ad_hoc for s in store.source_states()}
    finally:
        store.close()
    assert states == {"/srv/comunicati": True, "https://esempio.it/feed": True, "Cronaca": False}
