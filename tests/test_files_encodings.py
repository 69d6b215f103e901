"""Article files in UTF-8 (BOM or not), Windows-1252 and ISO-8859-1 are read; binary files
and UTF-16 are skipped with their reason."""

from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from db.records import SourceSpec
from db.store import Store
from ingest.errors import BadArticle
from ingest.files import FoundFile, read_article
from ingest.pipeline import ingest_files_source


def found(path: Path, root: Path) -> FoundFile:
    st_ = path.stat()
    return FoundFile(path, path.relative_to(root).as_posix(), st_.st_mtime_ns, st_.st_size)


def read(path: Path) -> tuple[str, str, str]:
    raw = read_article(found(path, path.parent), path.read_bytes())
    return raw.title, raw.summary, raw.body_text or raw.body_html or ""


def test_cp1252_text_file(data_dir: Path) -> None:
    path = data_dir / "codifiche" / "finestre-1252.txt"
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    title, summary, body = read(path)
    assert title == "Città in festa: tre giorni di musica in piazza"
    assert summary == (
        "Il Comune spende 12.000 € per la rassegna “Estate in città” – ingresso libero"
    )
    # 0x85 is "…" in cp1252 but a line break (NEL) in Latin-1: read as cp1252, it stays
    # inside its paragraph.
    assert body.split("\n") == [
        "È la prima volta che la piazza del Duomo ospita tre serate di fila.",
        "L’assessora alla cultura spiega perché il programma è stato anticipato a giugno…",
        "Sabato sera suonerà la banda cittadina; domenica toccherà ai cori delle scuole.",
    ]


def test_latin1_markdown_file(data_dir: Path) -> None:
    path = data_dir / "codifiche" / "latino-1.md"
    raw = read_article(found(path, path.parent), path.read_bytes())
    assert raw.title == "Perché il parco della città è più verde quest'anno"
    assert raw.authors == "Niccolò Bellè"
    assert raw.tags == ["ambiente", "città"]
    assert raw.body_html is not None
    assert "Più avanti arriverà anche la fontana: così" in raw.body_html


def test_utf8_bom_before_front_matter(data_dir: Path) -> None:
    path = data_dir / "codifiche" / "bom-utf8.md"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf---")
    raw = read_article(found(path, path.parent), path.read_bytes())
    assert raw.title == "Il mercato del sabato torna in piazza"
    assert raw.category == "Cronaca"
    assert raw.body_html is not None and "già dalle sette" in raw.body_html


def test_a_stray_control_byte_does_not_make_text_binary(tmp_path: Path) -> None:
    # Old DOS editors end a file with Ctrl-Z: a control byte, yet the file is text.
    data = (
        "Il torneo di scacchi\nSi gioca in biblioteca, “ogni sabato”\n\n"
        "È aperto a tutti e l’iscrizione è gratuita.\n"
    ).encode("cp1252") + b"\x1a"
    path = tmp_path / "dos.txt"
    path.write_bytes(data)
    title, summary, body = read(path)
    assert (title, summary) == ("Il torneo di scacchi", "Si gioca in biblioteca, “ogni sabato”")
    assert body.startswith("È aperto a tutti e l’iscrizione è gratuita.")


def _binary_without_nul() -> bytes:
    return random.Random(17).randbytes(2048).replace(b"\x00", b"\x01")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_binary_without_nul(), "binary, not text in UTF-8 or Windows-1252"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ("Titolo\n\nCorpo.\n".encode("utf-16"), "UTF-16 or UTF-32 byte order mark"),
        ("Titolo\n\nCorpo.\n".encode("utf-32"), "UTF-16 or UTF-32 byte order mark"),
    ],
    ids=["random-bytes", "png", "utf-16", "utf-32"],
)
def test_what_is_not_text_is_skipped(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "non-testo.txt"
    path.write_bytes(data)
    with pytest.raises(BadArticle) as caught:
        read_article(found(path, tmp_path), data)
    assert reason in caught.value.reason


def test_folder_of_mixed_encodings(
    data_dir: Path, tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "archivio"
    shutil.copytree(data_dir / "codifiche", folder)
    (folder / "scansione.txt").write_bytes(_binary_without_nul())
    caplog.set_level(logging.WARNING, logger="rassegna.ingest")
    report = ingest_files_source(store, SourceSpec("Archivio vecchio", "files", str(folder)))
    assert report.new == 3
    titles = {a.guid: a.title for a in store.latest_articles(10)}
    assert titles == {
        "finestre-1252.txt": "Città in festa: tre giorni di musica in piazza",
        "latino-1.md": "Perché il parco della città è più verde quest'anno",
        "bom-utf8.md": "Il mercato del sabato torna in piazza",
    }
    assert [Path(p.where).name for p in report.problems] == ["scansione.txt"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "scansione.txt" in lines[0] and "binary" in lines[0], lines


# Italian words whose accented letters sit between ASCII ones or at a word's edge, joined
# by spaces: their cp1252 and Latin-1 bytes are never valid UTF-8 by accident.
_WORDS = [
    "città",
    "perché",
    "più",
    "così",
    "già",
    "però",
    "è",
    "È",
    "il",
    "la",
    "di",
    "un",
    "consiglio",
    "comunale",
    "piazza",
    "sindaco",
    "caffè",
    "università",
    "Niccolò",
    "Forlì",
    "Cantù",
    "lunedì",
    "venerdì",
    "qualità",
    "novità",
    "scuola",
    "nuova",
    "oggi",
    "domani",
    "ieri",
    "porta",
    "strada",
    "2026",
    "12,50",
    "ventitré",
    "àncora",
]
_CP1252_ONLY = ("€", "“sì”", "l’anno", "–", "…", "‘Òrso’", "Œ", "™")


def _lines(words: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(words), min_size=2, max_size=12).map(" ".join)


@st.composite
def _article(draw: st.DrawFn, words: list[str]) -> tuple[str, str, list[str]]:
    title = draw(_lines(words))
    summary = draw(_lines(words))
    body = draw(st.lists(_lines(words), min_size=1, max_size=5))
    return title, summary, body


@settings(deadline=None)  # each example writes a file: a busy disk is no failure
@given(article=_article([*_WORDS, *_CP1252_ONLY]), newline=st.sampled_from(["\n", "\r\n"]))
# charset-normalizer finds no encoding at all in these bytes.
@example(article=("€ città", "€ € €", ["città città"]), newline="\n")
def test_any_cp1252_article_reads_back(
    article: tuple[str, str, list[str]], newline: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _reads_back(article, "cp1252", newline, tmp_path_factory)


@settings(deadline=None)
@given(article=_article(_WORDS), newline=st.sampled_from(["\n", "\r\n"]))
def test_any_latin1_article_reads_back(
    article: tuple[str, str, list[str]], newline: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _reads_back(article, "latin-1", newline, tmp_path_factory)


@settings(deadline=None)
@given(
    article=_article([*_WORDS, *_CP1252_ONLY, "Москва", "東京", "🙂"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig"]),
)
def test_any_utf8_article_reads_back(
    article: tuple[str, str, list[str]], encoding: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _reads_back(article, encoding, "\n", tmp_path_factory)


def _reads_back(
    article: tuple[str, str, list[str]],
    encoding: str,
    newline: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    title, summary, body = article
    text = newline.join([title, summary, "", *body, ""])
    folder = tmp_path_factory.mktemp("codifica")
    path = folder / "articolo.txt"
    path.write_bytes(text.encode(encoding))
    assert read(path) == (title, summary, "\n".join(body))
