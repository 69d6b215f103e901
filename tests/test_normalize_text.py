"""Text rules T1-T15 of the Italian normalizer, its traps, idempotence and linear time."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.normalize import (
    decode_bytes,
    extract_html_text,
    html_to_text,
    normalize_summary,
    normalize_text,
    normalize_title,
)
from ingest.normalize._html import bare_paragraphs, html_text, paragraphs_text, parsed_text
from ingest.normalize._text import LAYOUT_SPECIAL_RE, one_line_spacing, trim_lines
from tests.conftest import example_cases
from tests.factories import paragraphs_markup

# ---------------------------------------------------------------------------- examples
# Each rule's examples under a name: one test case each, its id the name (numbered where a
# name has several).

DECODED: dict[str, list[tuple[bytes, str | None, str]]] = {
    "t1-utf8-bom-is-stripped": [(b"\xef\xbb\xbfcitt\xc3\xa0", None, "città")],
    "t1-utf16-bom-decides-the-encoding": [("perché".encode("utf-16"), None, "perché")],
    "t1-utf8-first": [("più però".encode(), None, "più però")],
    "t1-valid-utf8-wins-over-a-wrong-declaration": [("città".encode(), "iso-8859-1", "città")],
    "t1-cp1252-fallback": [(b"all\x92aeroporto \x80 5", None, "all\u2019aeroporto € 5")],
    "t1-declared-latin1-is-read-as-cp1252": [
        (b"l\x92ultimo \x93atto\x94", "ISO-8859-1", "l\u2019ultimo “atto”")
    ],
    # 0x81 is undefined in cp1252: only Latin-1 decodes it.
    "t1-latin1-last-resort": [(b"citt\xe0 \x81", None, "città \x81")],
    "t1-unknown-declared-charset-is-ignored": [("già".encode(), "no-such-charset", "già")],
}


def test_printable_text_has_no_layout_character_and_no_other_space() -> None:
    """The two shortcuts of the layout rules: a printable text holds no character the
    layout rules change and no white space but U+0020 (every code point checked)."""
    for code in range(0x110000):
        char = chr(code)
        if char.isprintable():
            assert not LAYOUT_SPECIAL_RE.match(char), hex(code)
            assert char == " " or not char.isspace(), hex(code)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.one_of(st.sampled_from(" \n\t\u00a0\u2028x"), st.characters())))
def test_one_line_spacing_is_split_and_join(text: str) -> None:
    assert one_line_spacing(text) == " ".join(text.split())


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=" \n\tab\u00a0\r", max_size=40))
def test_trim_lines_is_the_blank_lines_rule(text: str) -> None:
    """Lines lose their edge spaces and empty lines go: exactly the substitution of every
    run of spaces and breaks that holds a break by one break, then the edges trimmed."""
    assert trim_lines(text) == re.sub(r" *+\n[ \n]*+", "\n", text).strip(" \n")


@pytest.mark.parametrize(("data", "declared", "text"), example_cases(DECODED))
def test_decode_bytes(data: bytes, declared: str | None, text: str) -> None:
    assert decode_bytes(data, declared) == text


FROM_HTML: dict[str, list[tuple[str, str]]] = {
    "t3-block-elements-become-lines": [
        (
            "<div><h2>Titolo</h2><p>Uno\ndue</p><p>Tre<br>quattro</p>"
            "<ul><li>a</li><li>b</li></ul></div>",
            "Titolo\nUno due\nTre\nquattro\na\nb",
        )
    ],
    "t3-inline-elements-stay-inline": [
        ("<p>Il <b>sindaco</b> ha <a href='x'>detto</a></p>", "Il sindaco ha detto")
    ],
    "t3-entities-unescaped": [
        ("<p>Citt&agrave; &laquo;aperta&raquo; &#8211; &#x20AC; 5</p>", "Città «aperta» – € 5")
    ],
    "t3-double-escaped-entities-repaired": [
        ("<p>perch&amp;eacute; cos&amp;#236;</p>", "perché così")
    ],
    "t3-unknown-entity-left-alone": [("<p>A &amp;foo; B</p>", "A &foo; B")],
    "t3-scripts-and-styles-dropped": [
        ("<style>p{}</style><p>Testo</p><script>alert('x')</script><!-- nota -->", "Testo")
    ],
    "t3-text-is-normalized-too": [
        ("<p>E' l&rsquo;ora  dell&#39;incontro ...</p>", "È l'ora dell'incontro…")
    ],
    "t3-xml-declaration-and-empty-input": [
        ("<?xml version='1.0' encoding='utf-8'?><p>città</p>", "città"),
        ("", ""),
        ("   ", ""),
    ],
    "t3-plain-text-field": [("La citt&amp;agrave; si ferma", "La città si ferma")],
}


@pytest.mark.parametrize(("markup", "text"), example_cases(FROM_HTML))
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


_FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"

NORMALIZED: dict[str, list[tuple[str, str]]] = {
    "t1-bom-in-text-is-stripped": [("\ufeffIl Comune", "Il Comune")],
    "t4-mojibake": [
        ("perchÃ© piÃ¹", "perché più"),
        ("lâ€™assessore", "l'assessore"),
        ("Ãˆ vero", "È vero"),
        ("Â«SÃ¬Â»", "«Sì»"),
        ("nel centro cittÃ", "nel centro città"),
        ("la cittÃ e il porto", "la città e il porto"),
        ("la cittÃ, il porto", "la città, il porto"),
        ("all\x92aeroporto", "all'aeroporto"),
        ("ﬁne dell’ＵＥ", "fine dell'UE"),
    ],
    "t5-zwj-between-emoji-kept-elsewhere-removed": [
        (f"Famiglia {_FAMILY} a\u200db", f"Famiglia {_FAMILY} ab")
    ],
    "t6-spaces": [
        (
            "Il\xa0ministro\u202fha\u2009firmato\t\til   decreto",
            "Il ministro ha firmato il decreto",
        )
    ],
    "t6-body-lines-trimmed-and-empty-dropped": [("  Uno.  \n\n \n\tDue. \n", "Uno.\nDue.")],
    "t8-space-after-elision-removed": [
        ("un' intesa", "un'intesa"),
        ("c' è", "c'è"),
        ("dell' 800", "dell'800"),
        ("L' Aquila", "L'Aquila"),
        ("nell’ anno", "nell'anno"),
        ("quest' anno", "quest'anno"),
    ],
    "t9-accents-typed-as-apostrophes": [
        ("e' vero", "è vero"),
        ("E' vero", "È vero"),
        ("PERCHE' NO", "PERCHÉ NO"),
        ("Perche' no", "Perché no"),
        ("lui c'e'.", "lui c'è."),
        ("cosi', pero'", "così, però"),
        ("gia' fatto, piu' tardi, giu' di li'", "già fatto, più tardi, giù di lì"),
        ("ne' questo ne' quello", "né questo né quello"),
        ("la citta' e l'universita'", "la città e l'università"),
        ("votera' e andra'", "voterà e andrà"),
        ("parti' e torno'", "partì e tornò"),
        ("una virtu'!", "una virtù!"),
        ("e` vero, e´ chiaro", "è vero, è chiaro"),
        ("la responsabilita' e la creativita'", "la responsabilità e la creatività"),
        ("Sara'", "Sarà"),
    ],
    "t9-suffix-fallback": [
        ("la trasportabilita' e la navigabilita'", "la trasportabilità e la navigabilità")
    ],
    "t10-misspellings": [
        ("perchè", "perché"),
        ("Poichè e affinchè", "Poiché e affinché"),
        ("PERCHÈ", "PERCHÉ"),
        ("nè tu nè io", "né tu né io"),
        ("da sè", "da sé"),
        ("ventitrè e trentatrè", "ventitré e trentatré"),
        ("un pò di", "un po' di"),
        ("É vero", "È vero"),
    ],
    "t11-double-quotes": [("“casa” e „piano‟", '"casa" e "piano"')],
    "t11-single-quotes": [("il cosiddetto ‘lodo’", "il cosiddetto 'lodo'")],
    "t11-guillemets-kept-without-inner-spaces": [("«\u202fNo\u202f» e « sì »", "«No» e «sì»")],
    "t12-hyphen-look-alikes": [
        ("italo\u2010francese, \u22125 gradi, no\u2011stop", "italo-francese, -5 gradi, no-stop")
    ],
    "t13-ellipsis": [("Poi... e . . . dopo", "Poi… e… dopo")],
    "t14-no-space-before-punctuation": [
        (
            "Roma , Milano ; ( quasi ) [ nota ] pronte ! Vero ? Sì .",
            "Roma, Milano; (quasi) [nota] pronte! Vero? Sì.",
        )
    ],
    "t15-nfc": [("citta\u0300 e\u0300", "città è")],
    "urls-emails-and-code-are-masked": [
        (
            "Vedi https://example.it/citta'/a--b...c?x=1 , scrivi a redazione.roma@example.it ; "
            "usa `perche' ...` o www.example.it/e'",
            "Vedi https://example.it/citta'/a--b...c?x=1, scrivi a redazione.roma@example.it; "
            "usa `perche' ...` o www.example.it/e'",
        )
    ],
}


@pytest.mark.parametrize(("written", "normalized"), example_cases(NORMALIZED))
def test_normalize_text(written: str, normalized: str) -> None:
    assert normalize_text(written) == normalized


# The Italian-only rules apply to Italian text alone: (text, language, normalized).
BY_LANGUAGE: dict[str, list[tuple[str, str, str]]] = {
    "t9-only-on-italian-text": [
        ("Se' e citta'", "en", "Se' e citta'"),
        ("Se' e citta'", "it-IT", "Sé e città"),
    ],
    "t10-only-on-italian-text": [("perchè", "fr", "perchè")],
}


@pytest.mark.parametrize(("written", "language", "normalized"), example_cases(BY_LANGUAGE))
def test_normalize_text_in_a_language(written: str, language: str, normalized: str) -> None:
    assert normalize_text(written, language=language) == normalized


# ------------------------------------------------------------------ one-character variants


@pytest.mark.parametrize("brk", ["\r\n", "\r", "\u2028", "\u2029", "\x85"])
def test_t2_line_breaks(brk: str) -> None:
    assert normalize_text(f"Primo.{brk}Secondo.") == "Primo.\nSecondo."


@pytest.mark.parametrize("char", ["\u00ad", "\u200b", "\u200c", "\u2060", "\u200e", "\u200f"])
def test_t5_invisible_removed(char: str) -> None:
    assert normalize_text(f"mini{char}stro") == "ministro"


@pytest.mark.parametrize("mark", ["\u2019", "\u2018", "\u02bc", "\u00b4", "`", "\u2032"])
def test_t7_apostrophe_look_alikes(mark: str) -> None:
    assert normalize_text(f"l{mark}ultimo dell{mark}anno") == "l'ultimo dell'anno"


@pytest.mark.parametrize("dash", [" - ", " -- ", " — ", " ― "])
def test_t12_spaced_dashes(dash: str) -> None:
    assert normalize_text(f"Il vertice{dash}atteso da mesi") == "Il vertice – atteso da mesi"


# ------------------------------------------------------------------------ other functions


def test_t6_title_summary_on_one_line() -> None:
    assert normalize_title(" Uno\n due\r\ntre ") == "Uno due tre"
    assert normalize_summary("Primo\n\nsecondo") == "Primo secondo"


def test_t15_never_nfkc() -> None:
    text = "il 1º, 5 m², ½ litro, ﬀ"
    assert normalize_text("il 1º, 5 m², ½ litro") == "il 1º, 5 m², ½ litro"
    assert "ff" in normalize_text(text)  # ligatures go through ftfy, not NFKC


# ------------------------------------------------------------------------------ traps


@pytest.mark.parametrize(
    "trap",
    [
        "Serve un po' di pazienza",
        "mo' basta",
        "be' vedremo",
        "i de' Medici",
        "l'università Ca' Foscari",
        "va' via, fa' presto, sta' zitto, da' retta, di' la verità",
        "D'Alema, D'Annunzio, O'Neill, Dell'Utri",
        "don't panic, the students' union, rock 'n' roll",
        "lo chiamano 'papa' da sempre",
        "Dell'Occidente e nell'aula",
        "https://example.it/a'b",
        "redazione@example.it",
        "`git commit -m 'fix'`",
        "Il 1º ottobre, .NET, 5 m², ½",
        "Roma-Lazio 2-1, italo-francese",
        "«Siamo pronti» – dice",
        # what each rule must leave alone
        "Costa 5 € al chilo, São Paulo",  # T4: clean text with a euro sign
        "al 5\u2032 del primo tempo",  # T7: a prime outside words
        "un po' di tempo, de' Medici, the students' union, Ca' Foscari",  # T8: unlisted elisions
        "Il voto sul bilancio' resta",  # T9: an unknown word
        "un lacchè, l'ÉCOLE e il caffè",  # T10: lacchè and words with É
        "Roma-Lazio 2-1",  # T12: compounds and scores
        "il portale .NET e il file .env",  # T14: .NET
        "Leggi www.example.it.",  # masking: a URL's trailing dot is not part of it
    ],
)
def test_traps_unchanged(trap: str) -> None:
    assert normalize_text(trap) == trap


# ------------------------------------------------------------- idempotence, never raises

_INTERESTING = [
    *"aeiouAEIOUèéàìòùÈÉ lLdDnNcC'’‘`´′\"“”«»-–—‐−.…,;:!?()[]@/:#&\n\r\t\xa0\u202f\u200b",
    *"\u200d\u00ad\ufeffÃÂâ€™©¨\x92\x85ﬁＵ\U0001f468",
    *["perche", "citta", "www.", "http://", "e'", "po'", "un' ", "&amp;", "<p>", "</p>", "<br>"],
]
_TEXTS = st.lists(st.one_of(st.sampled_from(_INTERESTING), st.characters()), max_size=60).map(
    "".join
)


@pytest.mark.parametrize("function", [normalize_text, html_to_text])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXTS)
def test_output_is_normalized_and_never_raises(function: Callable[[str], str], text: str) -> None:
    # For normalize_text this is idempotence. Decoding HTML is a conversion, not a
    # normalization: ``&lt;p&gt;`` becomes ``<p>``, which a second HTML pass would read as a
    # tag; so html_to_text's output too must be a fixed point of the text normalizer.
    once = function(text)
    assert normalize_text(once) == once


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_normalize_title_idempotent_and_one_line(text: str) -> None:
    once = normalize_title(text)
    assert "\n" not in once
    assert normalize_title(once) == once


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_extract_html_text_is_html_to_text_before_normalizing(text: str) -> None:
    # Language detection counts words in the extracted text without normalizing it
    # first; it must be the very text html_to_text normalizes, and never raise either.
    assert normalize_text(extract_html_text(text)) == html_to_text(text)


def test_extract_html_text_leaves_the_text_as_it_came() -> None:
    text = extract_html_text("<p>La citta' &egrave; “aperta”</p><p>Due</p>")
    assert text.split() == ["La", "citta'", "è", "“aperta”", "Due"]
    assert [line for line in text.split("\n") if line] == ["La citta' è “aperta”", "Due"]


# ---------------------------------------------------------------------- linear time

_PATHOLOGICAL = {
    "no spaces": "a" * 100_000,
    "spaces": " " * 100_000,
    "newlines": "\n" * 100_000,
    "apostrophes": "'" * 100_000,
    "backticks": "`" * 100_000,
    "vowel apostrophes": "e' " * 33_334,
    "dots": "." * 100_000,
    "dashes": " -" * 50_000,
    "e-mail like": "a.b" * 33_333 + "@",
    "mojibake": "Ã©" * 50_000,
    "unclosed tags": "<a " * 33_334,
}


@pytest.mark.parametrize("name", list(_PATHOLOGICAL))
@pytest.mark.parametrize("function", [normalize_text, normalize_title, html_to_text])
def test_100kb_pathological_input_under_half_a_second(name: str, function: object) -> None:
    assert callable(function)
    text = _PATHOLOGICAL[name]
    start = time.perf_counter()
    function(text)
    assert time.perf_counter() - start < 0.5


# -------------------------------------------- plain text read without the HTML parser

_PLAIN_CHARS = [
    char for char in map(chr, range(sys.maxunicode + 1)) if char.isprintable() and char not in "<& "
]


def test_plain_text_shortcut_is_what_the_parser_gives_on_every_character() -> None:
    # Each character the shortcut takes, as a whole text (so first and last), and all of
    # them in one text, together and spaced.
    for char in _PLAIN_CHARS:
        assert html_text(char) == parsed_text(char), repr(char)
    together = "".join(_PLAIN_CHARS)
    spaced = " ".join(_PLAIN_CHARS) + "  a   b "
    for text in (together, spaced):
        assert html_text(text) == parsed_text(text)


_PLAIN_TEXTS = st.text(st.one_of(st.sampled_from(" aè’«"), st.characters()), max_size=30)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_TEXTS, _PLAIN_TEXTS))
def test_html_text_equals_the_parser(text: str) -> None:
    assert html_text(text) == parsed_text(text)


# ----------------------------------------- bare paragraphs read without the HTML parser

_BARE_CHARS = [char for char in _PLAIN_CHARS if char not in ">"] + ["\xa0"]


def test_bare_paragraphs_are_what_the_parser_gives_on_every_character() -> None:
    # Every character bare_paragraphs takes, inside paragraphs of 256, then all of them in
    # one paragraph, with a line break inside and after it.
    for start in range(0, len(_BARE_CHARS), 256):
        chars = "".join(_BARE_CHARS[start : start + 256])
        markup = f"<p>a{chars}b</p>\n<p>c</p>"
        paragraphs = bare_paragraphs(markup)
        assert paragraphs is not None, repr(chars)
        assert paragraphs_text(paragraphs) == parsed_text(markup), repr(chars)
    markup = "<p>a" + "".join(_BARE_CHARS) + "\nb</p>\n"
    paragraphs = bare_paragraphs(markup)
    assert paragraphs is not None
    assert paragraphs_text(paragraphs) == parsed_text(markup)


_PARAGRAPH_TEXTS = st.lists(
    st.one_of(
        st.sampled_from(["a", "è", " ", "  ", "\n", "&quot;", '"', "’", "\xa0", "Ã", "&amp;", "<"]),
        st.sampled_from(["\r", "\t", "\x00", "\x0c", "\u2028", ">", "&", "</p>", "<p>"]),
        st.characters(),
    ),
    max_size=12,
).map("".join)
_BARE_MARKUP = paragraphs_markup(_PARAGRAPH_TEXTS)


@settings(max_examples=500, deadline=None)
@given(_BARE_MARKUP)
def test_bare_paragraphs_text_equals_the_parser(markup: str) -> None:
    paragraphs = bare_paragraphs(markup)
    if paragraphs is not None:
        assert paragraphs_text(paragraphs) == parsed_text(markup)
        assert paragraphs_text(paragraphs) == extract_html_text(markup)


def test_bare_paragraphs_take_only_bare_paragraphs() -> None:
    assert bare_paragraphs('<p>Il "sì"\ndel &quot;sindaco&quot;</p>\n<p>Poi</p>') == [
        ('Il "sì"\ndel "sindaco"', "\n"),
        ("Poi", ""),
    ]
    for markup in (
        "",
        "<p>a</p> ",
        "<p>a &amp; b</p>",
        "<p><b>a</b></p>",
        "<p> a</p>",
        "<p>a\r</p>",
        "a",
    ):
        assert bare_paragraphs(markup) is None, markup
