"""The files ingest pipeline end to end into a real store: new, unchanged, edited, broken."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from db.records import SourceSpec
from db.store import Store
from ingest.errors import IngestError
from ingest.pipeline import ingest_files_source
from tests.conftest import REPO


def spec(folder: Path, category: str | None = "Cronaca") -> SourceSpec:
    return SourceSpec(name="Prova", kind="files", location=str(folder), category=category)


@pytest.fixture
def folder(tmp_path: Path, data_dir: Path) -> Path:
    target = tmp_path / "articoli"
    shutil.copytree(data_dir / "articoli", target)
    return target


def test_shared_sample_comes_through_unchanged(tmp_path: Path, shared: Path, store: Store) -> None:
    source = shared / "samples" / "seed-article.txt"
    (tmp_path / "in").mkdir()
    shutil.copy(source, tmp_path / "in" / "seed-article.txt")
    report = ingest_files_source(store, spec(tmp_path / "in"))
    assert (report.new, report.problems) == (1, [])
    (article,) = store.latest_articles(5)
    lines = source.read_text(encoding="utf-8").split("\n")
    assert article.title == lines[0]
    assert article.summary == lines[1]
    paragraphs = [line for line in lines[3:] if line.strip()]
    assert article.content_text.split("\n") == paragraphs
    assert article.content_html.count("<p>") == len(paragraphs)
    for word in ("capacità", "ciò", "così", "volontà"):
        assert word in article.content_text
    assert article.category is not None and article.category.name == "Cronaca"
    assert article.language == "it"
    assert article.slug.startswith("accordo-di-difesa")


def test_folder_ingest_and_fields(folder: Path, store: Store) -> None:
    report = ingest_files_source(store, spec(folder), timezone="Europe/Rome")
    assert (report.new, report.changed, len(report.problems)) == (3, 0, 0)
    by_guid = {a.guid: a for a in store.latest_articles(10)}
    assert set(by_guid) == {"bom.txt", "ponte.txt", "sezione/consiglio.md"}
    md = by_guid["sezione/consiglio.md"]
    # A naive front matter time is read in the site's zone: 10:15 in Rome in March (CEST).
    assert md.published.isoformat() == "2026-03-29T08:15:00+00:00"
    assert md.updated.isoformat() == "2026-03-30T06:00:00+00:00"
    assert md.authors == ("Lucia Marini", "Paolo Verdi")
    assert md.category is not None and md.category.name == "Politica"
    assert sorted(t.slug for t in md.tags) == ["comune", "energia"]
    assert "<script" not in md.content_html and "alert" not in md.content_html
    assert "<strong>pannelli solari</strong>" in md.content_html
    assert 'href="https://www.esempio.it/delibera.pdf"' in md.content_html
    assert md.image_url == "https://www.esempio.it/img/pannelli.jpg"
    txt = by_guid["ponte.txt"]
    assert txt.category is not None and txt.category.name == "Cronaca"
    mtime = (folder / "ponte.txt").stat().st_mtime
    assert abs(txt.published.timestamp() - mtime) < 1
    assert by_guid["bom.txt"].title == "Titolo con il BOM: perché no"


def test_unchanged_rerun_changes_nothing(folder: Path, store: Store) -> None:
    ingest_files_source(store, spec(folder))
    before = store.latest_articles(10)
    again = ingest_files_source(store, spec(folder))
    assert (again.new, again.changed, again.unchanged_files) == (0, 0, 3)
    assert store.latest_articles(10) == before
    # Touched but not edited: read again, recognised as the same, still nothing changes.
    os.utime(folder / "ponte.txt", ns=(1, 1_900_000_000_000_000_000))
    touched = ingest_files_source(store, spec(folder))
    assert (touched.new, touched.changed, touched.unchanged_files) == (0, 0, 3)
    assert store.latest_articles(10) == before


def test_edited_file_updates_article(folder: Path, store: Store) -> None:
    ingest_files_source(store, spec(folder))
    before = {a.guid: a for a in store.latest_articles(10)}["ponte.txt"]
    path = folder / "ponte.txt"
    path.write_text(
        path.read_text(encoding="utf-8").replace("tre settimane", "quattro settimane"),
        encoding="utf-8",
    )
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 60 * 10**9))
    report = ingest_files_source(store, spec(folder))
    assert (report.new, report.changed) == (0, 1)
    after = {a.guid: a for a in store.latest_articles(10)}["ponte.txt"]
    assert "quattro settimane" in after.content_text
    assert after.uid == before.uid
    assert after.published == before.published
    assert after.updated > before.updated


def test_broken_files_are_skipped_and_nothing_is_lost(
    folder: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    ingest_files_source(store, spec(folder))
    (folder / "vuoto.txt").write_bytes(b"")
    (folder / "binario.txt").write_bytes(bytes(range(256)))
    (folder / "rotto.md").write_bytes(b"---\ntitle: [aperto\n---\ntesto\n")
    (folder / "ponte.txt").write_bytes(b"\xff\xfe rovinato")  # a good article breaks
    (folder / "nuovo.txt").write_text("Un titolo nuovo\nSommario\n\nCorpo.\n", encoding="utf-8")
    caplog.set_level("WARNING", logger="rassegna.ingest")
    report = ingest_files_source(store, spec(folder))
    assert report.new == 1
    assert sorted(Path(p.where).name for p in report.problems) == [
        "binario.txt",
        "ponte.txt",
        "rotto.md",
        "vuoto.txt",
    ]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4
    assert any("vuoto.txt" in line and "empty" in line and '"Prova"' in line for line in lines)
    guids = {a.guid for a in store.latest_articles(10)}
    assert guids == {"bom.txt", "ponte.txt", "sezione/consiglio.md", "nuovo.txt"}
    (state,) = store.source_states()
    assert state.last_error == "4 files skipped"
    # Fixed files are picked up on the next run, because their fingerprint was not saved.
    (folder / "vuoto.txt").write_text(
        "Ora ha un titolo\nE un sommario\n\nE un corpo.\n", encoding="utf-8"
    )
    fixed = ingest_files_source(store, spec(folder))
    assert fixed.new == 1 and len(fixed.problems) == 3


def test_missing_folder_is_an_error(tmp_path: Path, store: Store) -> None:
    with pytest.raises(IngestError, match="does not exist"):
        ingest_files_source(store, spec(tmp_path / "manca"))


def test_examples_folder(store: Store) -> None:
    total = 0
    categories: set[str] = set()
    for sub in ("cronaca", "cultura"):
        report = ingest_files_source(
            store, SourceSpec(sub, "files", str(REPO / "examples" / sub), category="Cronaca")
        )
        assert report.problems == []
        total += report.new
    articles = store.latest_articles(50)
    categories = {a.category.slug for a in articles if a.category}
    assert total == len(articles) >= 6
    assert len(categories) >= 2
    assert any("'" in a.title for a in articles)
    assert any(ch in a.title for a in articles for ch in "àèéìòù")
    assert {Path(a.guid).suffix for a in articles} == {".txt", ".md"}
