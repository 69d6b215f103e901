"""Hostile and broken files in a files source, through the real pipeline into a real
store: each bad file is one line naming it, the good ones go on, nothing stored is lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from db.records import SourceSpec
from db.store import Store
from feeds.build import build_feeds
from feeds.site import SiteInfo
from ingest.pipeline import ingest_files_source
from tests.reliability_helpers import assert_output_valid

SECRET = "SEGRETO-FILE-7f3a-NON-DEVE-USCIRE"
GOOD = "Titolo buono numero {n}\nUn sommario.\n\nPrimo paragrafo {n}.\n"


def spec(folder: Path) -> SourceSpec:
    return SourceSpec("Cartella ostile", "files", str(folder), "Cronaca")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    found = tmp_path / "articoli"
    found.mkdir()
    for n in range(3):
        (found / f"buono-{n}.txt").write_text(GOOD.format(n=n), encoding="utf-8")
    return found


def stored_titles(store: Store) -> set[str]:
    return {a.title for a in store.latest_articles(1000)}


def test_bad_files_are_skipped_one_line_each(folder: Path, store: Store, tmp_path: Path) -> None:
    (folder / "latino.txt").write_bytes("Perché così\n\nCittà.\n".encode("latin-1"))
    (folder / "vuoto.txt").write_bytes(b"")
    (folder / "spazi.md").write_bytes(b"  \n\n \t\n")
    (folder / "binario.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "immagine.md").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2048))
    (folder / "yaml-rotto.md").write_text("---\ntitle: [aperto\n---\nCorpo\n", encoding="utf-8")
    (folder / "utf16.txt").write_bytes("Titolo in UTF-16\n\nCorpo.\n".encode("utf-16"))
    report = ingest_files_source(store, spec(folder))
    # Latin-1 is text (read as Windows-1252); the rest is skipped.
    assert report.new == 4
    assert stored_titles(store) == {f"Titolo buono numero {n}" for n in range(3)} | {"Perché così"}
    skipped = {Path(p.where).name: p.reason for p in report.problems}
    assert set(skipped) == {
        "vuoto.txt",
        "spazi.md",
        "binario.txt",
        "immagine.md",
        "yaml-rotto.md",
        "utf16.txt",
    }
    for name, reason in skipped.items():
        assert reason and "\n" not in reason and "Traceback" not in reason, name
    assert "empty" in skipped["vuoto.txt"]
    assert "binary" in skipped["binario.txt"] and "binary" in skipped["immagine.md"]
    assert "UTF-16" in skipped["utf16.txt"]
    states = {s.name: s for s in store.source_states()}
    assert states["Cartella ostile"].last_error == "6 files skipped"


def test_a_file_that_breaks_keeps_its_stored_version(folder: Path, store: Store) -> None:
    ingest_files_source(store, spec(folder))
    before = {a.guid: (a.title, a.content_html, a.uid) for a in store.latest_articles(100)}
    target = folder / "buono-1.txt"
    for broken in (b"", b"\xff\xfe\x00rotto", bytes(range(256))):
        target.write_bytes(broken)
        stat = target.stat()
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        report = ingest_files_source(store, spec(folder))
        assert [Path(p.where).name for p in report.problems] == ["buono-1.txt"]
        after = {a.guid: (a.title, a.content_html, a.uid) for a in store.latest_articles(100)}
        assert after == before


def test_symlinks_out_of_the_folder_are_not_followed(
    folder: Path, store: Store, tmp_path: Path
) -> None:
    outside = tmp_path / "fuori"
    outside.mkdir()
    (outside / "segreto.txt").write_text(f"{SECRET}\n\n{SECRET}\n", encoding="utf-8")
    (outside / "sotto").mkdir()
    (outside / "sotto" / "altro.md").write_text(f"# {SECRET}\n\n{SECRET}\n", encoding="utf-8")
    (folder / "link.txt").symlink_to(outside / "segreto.txt")
    (folder / "cartella-link").symlink_to(outside / "sotto", target_is_directory=True)
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "rotto.txt").symlink_to(tmp_path / "non-esiste.txt")
    (folder / "ciclo").symlink_to(folder, target_is_directory=True)
    report = ingest_files_source(store, spec(folder))
    assert report.new == 3 and report.error is None
    with store.engine.connect() as connection:
        dump = repr(connection.exec_driver_sql("SELECT * FROM articles").all())
    assert SECRET not in dump and "root:" not in dump
    out = tmp_path / "public"
    build_feeds(
        store, SiteInfo("Prova", "http://127.0.0.1/", "http://127.0.0.1/"), out, fsync=False
    )
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes()


ODD_NAMES = [
    "con spazi nel nome.txt",
    "perché-città-è.txt",
    "e\u0301-decomposta.txt",  # e + combining acute (NFD), as macOS writes names
    "a capo\nnel nome.txt",
    "tab\tnel nome.md",
    "virgolette \"doppie\" e 'singole'.txt",
    "<script>alert(1)<\\script>.txt",
    "puntini...finali..txt",
    "-trattino-iniziale.txt",
    "emoji-📰.txt",
    "x" * 240 + ".txt",
    "punto e virgola; & e commerciale.md",
]


def test_odd_file_names(folder: Path, store: Store, tmp_path: Path) -> None:
    for n, name in enumerate(ODD_NAMES):
        body = f"---\ntitle: Nome strano {n}\ndate: 2026-11-02\n---\nCorpo {n}.\n"
        if name.endswith(".txt"):
            body = f"Nome strano {n}\nSommario.\n\nCorpo {n}.\n"
        (folder / name).write_text(body, encoding="utf-8")
    report = ingest_files_source(store, spec(folder))
    assert report.error is None
    titles = stored_titles(store)
    for n in range(len(ODD_NAMES)):
        assert f"Nome strano {n}" in titles
    guids = {a.guid for a in store.latest_articles(1000)}
    assert "a capo\nnel nome.txt" in guids and "x" * 240 + ".txt" in guids
    # Ingesting again finds nothing new and nothing changed.
    again = ingest_files_source(store, spec(folder))
    assert again.new == again.changed == 0 and again.problems == report.problems
    out = tmp_path / "public"
    build_feeds(
        store, SiteInfo("Prova", "http://127.0.0.1/", "http://127.0.0.1/"), out, fsync=False
    )
    assert assert_output_valid(out) >= 6


def test_a_file_name_that_is_not_utf8(folder: Path, store: Store) -> None:
    with open(os.fsencode(folder) + b"/nome-non-utf8-\xe8.txt", "wb") as handle:
        handle.write(b"Nome non UTF-8\n\nCorpo.\n")
    report = ingest_files_source(store, spec(folder))
    assert report.new >= 3
    titles = stored_titles(store)
    assert {f"Titolo buono numero {n}" for n in range(3)} <= titles
    # Stored (under a readable guid) or skipped with one line naming it; never a crash.
    assert "Nome non UTF-8" in titles or any("non-utf8" in p.where for p in report.problems)


def test_a_name_that_is_not_utf8_is_one_line_naming_it(
    folder: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A file, or a folder, whose name is not UTF-8 is skipped with one line that names it
    (the bad byte written out), counted as a problem; the rest of the folder is stored."""
    raw_folder = os.fsencode(folder)
    with open(raw_folder + b"/nome-non-utf8-\xe8.txt", "wb") as handle:
        handle.write(b"Nome non UTF-8\n\nCorpo.\n")
    os.mkdir(raw_folder + b"/cartella-\xff")
    with open(raw_folder + b"/cartella-\xff/dentro.txt", "wb") as handle:
        handle.write(b"Dentro una cartella dal nome rotto\n\nCorpo.\n")
    with open(raw_folder + b"/immagine-\xe8.png", "wb") as handle:
        handle.write(b"\x89PNG")  # not an article: ignored like any other such file
    with caplog.at_level("WARNING", logger="rassegna.ingest"):
        report = ingest_files_source(store, spec(folder))
    assert report.new == 3
    assert stored_titles(store) == {f"Titolo buono numero {n}" for n in range(3)}
    assert sorted(p.where for p in report.problems) == [
        f"{folder}/cartella-\\xff",
        f"{folder}/nome-non-utf8-\\xe8.txt",
    ]
    assert all("UTF-8" in p.reason for p in report.problems)
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if "nome-non-utf8" in line]) == 1
    assert len([line for line in lines if "cartella-" in line]) == 1
    states = {s.name: s for s in store.source_states()}
    assert states["Cartella ostile"].last_error == "2 files skipped"


def test_ingesting_one_file_whose_name_is_not_utf8(folder: Path, store: Store) -> None:
    path = Path(os.fsdecode(os.fsencode(folder) + b"/solo-\xe8.txt"))
    path.write_bytes(b"Solo\n\nCorpo.\n")
    report = ingest_files_source(store, spec(folder), only=path)
    assert report.new == 0
    assert [p.where for p in report.problems] == [f"{folder}/solo-\\xe8.txt"]
