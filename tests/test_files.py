"""The files adapter: the sample format, Markdown with front matter, and broken files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from ingest.errors import BadArticle
from ingest.files import (
    FoundFile,
    _quoted_front_matter,
    parse_markdown,
    parse_plain_text,
    read_article,
    render_markdown,
    scan_folder,
    split_front_matter,
)


def found(path: Path, root: Path) -> FoundFile:
    st_ = path.stat()
    return FoundFile(path, path.relative_to(root).as_posix(), st_.st_mtime_ns, st_.st_size)


def test_shared_sample_article(shared: Path) -> None:
    path = shared / "samples" / "seed-article.txt"
    lines = path.read_text(encoding="utf-8").split("\n")
    raw = read_article(found(path, path.parent), path.read_bytes())
    assert raw.title == lines[0]
    assert raw.summary == lines[1]
    assert raw.body_text is not None
    paragraphs = raw.body_text.split("\n")
    assert paragraphs == [line for line in lines[3:] if line.strip()]
    assert len(paragraphs) >= 6
    assert raw.guid == "seed-article.txt"
    assert raw.fallback_date is not None and raw.fallback_date.tzinfo is not None


def test_markdown_front_matter(data_dir: Path) -> None:
    root = data_dir / "articoli"
    path = root / "sezione" / "consiglio.md"
    raw = read_article(found(path, root), path.read_bytes())
    assert raw.guid == "sezione/consiglio.md"
    assert raw.title == "Il consiglio comunale approva il piano per l'energia"
    assert raw.authors == ["Lucia Marini", "Paolo Verdi"]
    assert raw.category == "Politica"
    assert raw.tags == ["energia, Comune"]
    assert raw.url == "https://www.esempio.it/politica/piano-energia"
    assert raw.image_url == "https://www.esempio.it/img/pannelli.jpg"
    assert raw.summary.startswith("Pannelli solari")
    # YAML reads a time without seconds as text; the normalizer parses it later.
    assert raw.published == "2026-03-29 10:15"
    assert raw.updated is not None and raw.updated.isoformat() == "2026-03-30T08:00:00+02:00"
    assert raw.body_html is not None and "<strong>pannelli solari</strong>" in raw.body_html


def test_markdown_date_only_and_heading_title() -> None:
    raw = parse_markdown(
        "---\ndate: 2026-09-18\n---\n# Titolo dal corpo\n\nTesto.\n", guid="g", origin="o"
    )
    assert raw.title == "Titolo dal corpo"
    assert raw.published == datetime(2026, 9, 18, 0, 0)
    assert raw.body_html is not None and "Titolo dal corpo" not in raw.body_html


def test_bom_is_stripped(data_dir: Path) -> None:
    root = data_dir / "articoli"
    raw = read_article(found(root / "bom.txt", root), (root / "bom.txt").read_bytes())
    assert raw.title == "Titolo con il BOM: perché no"


def test_scan_sorted_relative_and_skips_hidden_and_symlinks(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "due.md").write_text("x", encoding="utf-8")
    (tmp_path / "uno.txt").write_text("x", encoding="utf-8")
    (tmp_path / ".nascosto.txt").write_text("x", encoding="utf-8")
    (tmp_path / "note.pdf").write_text("x", encoding="utf-8")
    outside = tmp_path.parent / f"{tmp_path.name}-fuori.txt"
    outside.write_text("segreto", encoding="utf-8")
    (tmp_path / "link.txt").symlink_to(outside)
    assert [f.guid for f in scan_folder(tmp_path)] == ["b/due.md", "uno.txt"]
    assert [f.guid for f in scan_folder(tmp_path / "b", base=tmp_path)] == ["b/due.md"]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("vuoto.txt", b"", "empty"),
        ("spazi.txt", b"  \n\n ", "empty"),
        ("binario.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        ("senza-titolo.txt", b"\nSommario\n\nCorpo\n", "no title line"),
        ("yaml.md", b"---\ntitle: [non chiuso\n---\nTesto\n", "not valid YAML at line 2"),
        ("aperto.md", b"---\ntitle: Ciao\nTesto senza chiusura\n", "no closing"),
        ("lista.md", b"---\n- uno\n- due\n---\nTesto\n", "key: value"),
        ("senza.md", b"---\ndate: 2026-01-01\n---\nSolo testo.\n", "no title"),
        ("tags.md", b"---\ntitle: T\ntags: {a: 1}\n---\nx\n", "'tags' must be text or a list"),
    ],
)
def test_broken_files_say_why(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(BadArticle) as caught:
        read_article(found(path, tmp_path), data)
    assert reason in caught.value.reason
    assert "\n" not in caught.value.reason


def test_front_matter_absent_is_plain_markdown() -> None:
    assert split_front_matter("# Titolo\n\ntesto") == ({}, "# Titolo\n\ntesto")


@given(
    title=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1).filter(
        lambda t: t.strip() != ""
    ),
    summary=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))),
    paragraphs=st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")))),
)
def test_plain_text_parser_round_trips(title: str, summary: str, paragraphs: list[str]) -> None:
    text = "\n".join([title, summary, "", *paragraphs])
    raw = parse_plain_text(text, guid="g", origin="o")
    assert raw.title == title.strip()
    body = [p.strip() for p in paragraphs if p.strip()]
    if summary.strip():
        assert raw.summary == summary.strip()
        assert raw.body_text == "\n".join(body)
    else:
        assert raw.summary == ""
        assert raw.body_text == "\n".join(body)


# The parser as `render_markdown` must match it, built here on its own.
COMMONMARK = MarkdownIt("commonmark", {"html": True, "typographer": False})
# Prose, and every character that can open Markdown markup or a block, or that the parser
# treats as white space or rewrites.
MARKDOWN_PIECES = st.sampled_from(
    [
        "La giunta",
        "approva",
        "il bilancio.",
        "“Basta”",
        '"detto"',
        "l'ufficio",
        "città",
        "È",
        "2024",
        "1.",
        "3)",
        "# ",
        "## ",
        "> ",
        "- ",
        "+ ",
        "* ",
        "_",
        "**",
        "`",
        "```",
        "~~~",
        "===",
        "---",
        "[x]",
        "[x]: /u",
        "<b>",
        "<!-- -->",
        "&amp;",
        "&",
        "\\",
        "!",
        "|",
        "    ",
        " ",
        "  ",
        "\t",
        "\r",
        "\x00",
        "\xa0",
        "\u2028",
        "\n",
        "\n\n",
    ]
)


@settings(max_examples=400)
@given(st.lists(MARKDOWN_PIECES, max_size=30).map("".join))
def test_render_markdown_is_commonmark(body: str) -> None:
    assert render_markdown(body) == COMMONMARK.render(body)


@given(
    st.lists(
        st.lists(st.sampled_from(["Il sindaco", "dice", '"basta"', "“sì”", "2 volte", "-", "."]))
        .map(" ".join)
        .filter(lambda line: line[:1] not in ("", "-")),
        max_size=8,
    ).map(lambda lines: "\n".join(line if line != "." else "" for line in lines))
)
def test_render_markdown_of_plain_paragraphs(body: str) -> None:
    # Plain prose: the paragraphs are written without the parser, and must read the same.
    assert render_markdown(body) == COMMONMARK.render(body)


def test_render_markdown_paragraphs_and_quotes() -> None:
    body = 'Il sindaco: "basta".\nSeconda riga.\n\n\nAltro paragrafo\n'
    assert render_markdown(body) == (
        "<p>Il sindaco: &quot;basta&quot;.\nSeconda riga.</p>\n<p>Altro paragrafo</p>\n"
    )


# Front matter of quoted `key: value` lines is read without YAML: whatever such a block
# is, what `split_front_matter` returns must be what YAML reads from it.
_QUOTED_TEXT = st.lists(
    st.sampled_from([*"aÈ :\"'\\[],-{&*\t\xa0\u2028\ufeff\x85😀1", " #", ", ", "2024-06-01"]),
    max_size=8,
).map("".join)
_FRONT_MATTER_LINE = st.tuples(
    st.sampled_from(["title", "tags", "date", "summary", "yes", "null", "Title", "url", "on"]),
    st.sampled_from([": ", ":  ", ":", " : "]),
    st.one_of(
        _QUOTED_TEXT.map(lambda text: f'"{text}"'),
        st.lists(_QUOTED_TEXT.map(lambda text: f'"{text}"'), max_size=3).map(
            lambda items: f"[{', '.join(items)}]"
        ),
        _QUOTED_TEXT,
    ),
).map("".join)


def _front_matter_outcome(text: str) -> object:
    try:
        return split_front_matter(text)
    except BadArticle as exc:
        return exc.reason


@settings(max_examples=500)
@given(st.lists(_FRONT_MATTER_LINE, min_size=1, max_size=5).map("\n".join))
def test_quoted_front_matter_reads_as_yaml(block: str) -> None:
    text = f"---\n{block}\n---\ncorpo\n"
    with mock.patch("ingest.files._quoted_front_matter", return_value=None):
        through_yaml = _front_matter_outcome(text)
    outcome = _front_matter_outcome(text)
    assert outcome == through_yaml
    if isinstance(outcome, tuple):  # the same types too: "1" is not 1
        assert [type(v) for v in outcome[0].values()] == [
            type(v)
            for v in through_yaml[0].values()  # type: ignore[index]
        ]


def test_quoted_front_matter_takes_only_plain_quoted_lines() -> None:
    assert _quoted_front_matter('title: "Il sindaco: basta"\ntags: ["a", "b c"]\ntag: []') == {
        "title": "Il sindaco: basta",
        "tags": ["a", "b c"],
        "tag": [],
    }
    assert _quoted_front_matter('title: "uno"\ntitle: "due"') == {"title": "due"}  # YAML's
    for block in (
        'yes: "x"',  # a key YAML reads as a boolean
        'title: "a \\" b"',  # an escape
        "title: plain",  # a plain scalar: YAML may read a date, a number...
        'title: "x" # nota',
        'title: "x"\r',
        "",
        'title: "x"\n',
    ):
        assert _quoted_front_matter(block) is None, block
