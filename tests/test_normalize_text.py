"""Text rules T1-T15 of the Italian normalizer, its traps, idempotence and linear time."""

from __future__ import annotations

import time

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

# ------------------------------------------------------------------------ T1 decoding


def test_t1_utf8_bom_is_stripped() -> None:
    assert decode_bytes(b"\xef\xbb\xbfcitt\xc3\xa0") == "città"


def test_t1_utf16_bom_decides_the_encoding() -> None:
    assert decode_bytes("perché".encode("utf-16")) == "perché"


def test_t1_utf8_first() -> None:
    assert decode_bytes("più però".encode()) == "più però"


def test_t1_valid_utf8_wins_over_a_wrong_declaration() -> None:
    assert decode_bytes("città".encode(), "iso-8859-1") == "città"


def test_t1_cp1252_fallback() -> None:
    assert decode_bytes(b"all\x92aeroporto \x80 5") == "all\u2019aeroporto € 5"


def test_t1_declared_latin1_is_read_as_cp1252() -> None:
    assert decode_bytes(b"l\x92ultimo \x93atto\x94", "ISO-8859-1") == "l\u2019ultimo “atto”"


def test_t1_latin1_last_resort() -> None:
    # 0x81 is undefined in cp1252: only Latin-1 decodes it.
    assert decode_bytes(b"citt\xe0 \x81") == "città \x81"


def test_t1_unknown_declared_charset_is_ignored() -> None:
    assert decode_bytes("già".encode(), "no-such-charset") == "già"


def test_t1_bom_in_text_is_stripped() -> None:
    assert normalize_text("\ufeffIl Comune") == "Il Comune"


# --------------------------------------------------------------------- T2 line breaks


@pytest.mark.parametrize("brk", ["\r\n", "\r", "\u2028", "\u2029", "\x85"])
def test_t2_line_breaks(brk: str) -> None:
    assert normalize_text(f"Primo.{brk}Secondo.") == "Primo.\nSecondo."


# ------------------------------------------------------------------------------ T3 HTML


def test_t3_block_elements_become_lines() -> None:
    markup = (
        "<div><h2>Titolo</h2><p>Uno\ndue</p><p>Tre<br>quattro</p>"
        "<ul><li>a</li><li>b</li></ul></div>"
    )
    assert html_to_text(markup) == "Titolo\nUno due\nTre\nquattro\na\nb"


def test_t3_inline_elements_stay_inline() -> None:
    assert html_to_text("<p>Il <b>sindaco</b> ha <a href='x'>detto</a></p>") == (
        "Il sindaco ha detto"
    )


def test_t3_entities_unescaped() -> None:
    assert html_to_text("<p>Citt&agrave; &laquo;aperta&raquo; &#8211; &#x20AC; 5</p>") == (
        "Città «aperta» – € 5"
    )


def test_t3_double_escaped_entities_repaired() -> None:
    assert html_to_text("<p>perch&amp;eacute; cos&amp;#236;</p>") == "perché così"


def test_t3_unknown_entity_left_alone() -> None:
    assert html_to_text("<p>A &amp;foo; B</p>") == "A &foo; B"


def test_t3_scripts_and_styles_dropped() -> None:
    markup = "<style>p{}</style><p>Testo</p><script>alert('x')</script><!-- nota -->"
    assert html_to_text(markup) == "Testo"


def test_t3_text_is_normalized_too() -> None:
    assert html_to_text("<p>E' l&rsquo;ora  dell&#39;incontro ...</p>") == (
        "È l'ora dell'incontro…"
    )


def test_t3_xml_declaration_and_empty_input() -> None:
    assert html_to_text("<?xml version='1.0' encoding='utf-8'?><p>città</p>") == "città"
    assert html_to_text("") == ""
    assert html_to_text("   ") == ""


def test_t3_plain_text_field() -> None:
    assert html_to_text("La citt&amp;agrave; si ferma") == "La città si ferma"


# -------------------------------------------------------------------------- T4 mojibake


@pytest.mark.parametrize(
    ("damaged", "clean"),
    [
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
)
def test_t4_mojibake(damaged: str, clean: str) -> None:
    assert normalize_text(damaged) == clean


def test_t4_clean_text_with_euro_is_untouched() -> None:
    assert normalize_text("Costa 5 € al chilo, São Paulo") == "Costa 5 € al chilo, São Paulo"


# ------------------------------------------------------------------ T5 invisible characters


@pytest.mark.parametrize("char", ["\u00ad", "\u200b", "\u200c", "\u2060", "\u200e", "\u200f"])
def test_t5_invisible_removed(char: str) -> None:
    assert normalize_text(f"mini{char}stro") == "ministro"


def test_t5_zwj_between_emoji_kept_elsewhere_removed() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert normalize_text(f"Famiglia {family} a\u200db") == f"Famiglia {family} ab"


# --------------------------------------------------------------------------- T6 spaces


def test_t6_spaces() -> None:
    text = "Il\xa0ministro\u202fha\u2009firmato\t\til   decreto"
    assert normalize_text(text) == "Il ministro ha firmato il decreto"


def test_t6_body_lines_trimmed_and_empty_dropped() -> None:
    assert normalize_text("  Uno.  \n\n \n\tDue. \n") == "Uno.\nDue."


def test_t6_title_summary_on_one_line() -> None:
    assert normalize_title(" Uno\n due\r\ntre ") == "Uno due tre"
    assert normalize_summary("Primo\n\nsecondo") == "Primo secondo"


# -------------------------------------------------------------------- T7 apostrophes


@pytest.mark.parametrize("mark", ["\u2019", "\u2018", "\u02bc", "\u00b4", "`", "\u2032"])
def test_t7_apostrophe_look_alikes(mark: str) -> None:
    assert normalize_text(f"l{mark}ultimo dell{mark}anno") == "l'ultimo dell'anno"


def test_t7_prime_outside_words_kept() -> None:
    assert normalize_text("al 5\u2032 del primo tempo") == "al 5\u2032 del primo tempo"


# ------------------------------------------------------------------------- T8 elisions


@pytest.mark.parametrize(
    ("spaced", "joined"),
    [
        ("un' intesa", "un'intesa"),
        ("c' è", "c'è"),
        ("dell' 800", "dell'800"),
        ("L' Aquila", "L'Aquila"),
        ("nell’ anno", "nell'anno"),
        ("quest' anno", "quest'anno"),
    ],
)
def test_t8_space_after_elision_removed(spaced: str, joined: str) -> None:
    assert normalize_text(spaced) == joined


def test_t8_only_whitelisted_forms() -> None:
    text = "un po' di tempo, de' Medici, the students' union, Ca' Foscari"
    assert normalize_text(text) == text


# -------------------------------------------------------------- T9 apostrophe accents


@pytest.mark.parametrize(
    ("typed", "accented"),
    [
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
)
def test_t9_accents_typed_as_apostrophes(typed: str, accented: str) -> None:
    assert normalize_text(typed) == accented


def test_t9_suffix_fallback() -> None:
    assert normalize_text("la trasportabilita' e la navigabilita'") == (
        "la trasportabilità e la navigabilità"
    )


def test_t9_unknown_word_left_alone() -> None:
    assert normalize_text("Il voto sul bilancio' resta") == "Il voto sul bilancio' resta"


def test_t9_only_on_italian_text() -> None:
    assert normalize_text("Se' e citta'", language="en") == "Se' e citta'"
    assert normalize_text("Se' e citta'", language="it-IT") == "Sé e città"


# ---------------------------------------------------------------------- T10 misspellings


@pytest.mark.parametrize(
    ("wrong", "right"),
    [
        ("perchè", "perché"),
        ("Poichè e affinchè", "Poiché e affinché"),
        ("PERCHÈ", "PERCHÉ"),
        ("nè tu nè io", "né tu né io"),
        ("da sè", "da sé"),
        ("ventitrè e trentatrè", "ventitré e trentatré"),
        ("un pò di", "un po' di"),
        ("É vero", "È vero"),
    ],
)
def test_t10_misspellings(wrong: str, right: str) -> None:
    assert normalize_text(wrong) == right


def test_t10_lacche_and_words_with_e_acute_kept() -> None:
    assert normalize_text("un lacchè, l'ÉCOLE e il caffè") == "un lacchè, l'ÉCOLE e il caffè"


def test_t10_only_on_italian_text() -> None:
    assert normalize_text("perchè", language="fr") == "perchè"


# ---------------------------------------------------------------------------- T11 quotes


def test_t11_double_quotes() -> None:
    assert normalize_text("“casa” e „piano‟") == '"casa" e "piano"'


def test_t11_single_quotes() -> None:
    assert normalize_text("il cosiddetto ‘lodo’") == "il cosiddetto 'lodo'"


def test_t11_guillemets_kept_without_inner_spaces() -> None:
    assert normalize_text("«\u202fNo\u202f» e « sì »") == "«No» e «sì»"


# ---------------------------------------------------------------------------- T12 dashes


@pytest.mark.parametrize("dash", [" - ", " -- ", " — ", " ― "])
def test_t12_spaced_dashes(dash: str) -> None:
    assert normalize_text(f"Il vertice{dash}atteso da mesi") == "Il vertice – atteso da mesi"


def test_t12_hyphen_look_alikes() -> None:
    assert normalize_text("italo\u2010francese, \u22125 gradi, no\u2011stop") == (
        "italo-francese, -5 gradi, no-stop"
    )


def test_t12_compounds_and_scores_untouched() -> None:
    assert normalize_text("Roma-Lazio 2-1") == "Roma-Lazio 2-1"


# -------------------------------------------------------------------------- T13 ellipsis


def test_t13_ellipsis() -> None:
    assert normalize_text("Poi... e . . . dopo") == "Poi… e… dopo"


# ------------------------------------------------------------------- T14 punctuation spaces


def test_t14_no_space_before_punctuation() -> None:
    assert normalize_text("Roma , Milano ; ( quasi ) [ nota ] pronte ! Vero ? Sì .") == (
        "Roma, Milano; (quasi) [nota] pronte! Vero? Sì."
    )


def test_t14_dotnet_survives() -> None:
    assert normalize_text("il portale .NET e il file .env") == "il portale .NET e il file .env"


# ------------------------------------------------------------------------------ T15 NFC


def test_t15_nfc() -> None:
    assert normalize_text("citta\u0300 e\u0300") == "città è"


def test_t15_never_nfkc() -> None:
    text = "il 1º, 5 m², ½ litro, ﬀ"
    assert normalize_text("il 1º, 5 m², ½ litro") == "il 1º, 5 m², ½ litro"
    assert "ff" in normalize_text(text)  # ligatures go through ftfy, not NFKC


# --------------------------------------------------------------------------- masking


def test_urls_emails_and_code_are_masked() -> None:
    text = (
        "Vedi https://example.it/citta'/a--b...c?x=1 , scrivi a redazione.roma@example.it ; "
        "usa `perche' ...` o www.example.it/e'"
    )
    assert normalize_text(text) == (
        "Vedi https://example.it/citta'/a--b...c?x=1, scrivi a redazione.roma@example.it; "
        "usa `perche' ...` o www.example.it/e'"
    )


def test_url_trailing_punctuation_is_not_part_of_it() -> None:
    assert normalize_text("Leggi www.example.it.") == "Leggi www.example.it."


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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXTS)
def test_normalize_text_idempotent_and_never_raises(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_normalize_title_idempotent_and_one_line(text: str) -> None:
    once = normalize_title(text)
    assert "\n" not in once
    assert normalize_title(once) == once


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_html_to_text_output_is_normalized_and_never_raises(text: str) -> None:
    # Decoding HTML is a conversion, not a normalization: ``&lt;p&gt;`` becomes ``<p>``,
    # which a second HTML pass would read as a tag. Its output must be a fixed point of
    # the text normalizer instead.
    once = html_to_text(text)
    assert normalize_text(once) == once


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
