"""From RawArticle to ArticleDraft: every field normalized, HTML sanitized, language known."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.article import DraftRules, normalize_html, to_draft
from ingest.errors import BadArticle
from ingest.raw import RawArticle

WHEN = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def raw(**fields: object) -> RawArticle:
    base: dict[str, object] = {"guid": "g", "title": "Titolo", "origin": "prova", "published": WHEN}
    base.update(fields)
    return RawArticle(**base)  # type: ignore[arg-type]


def test_damaged_italian_text_is_repaired_in_every_field() -> None:
    draft = to_draft(
        raw(
            title="PerchÃ© la citta' e' piu' cara",
            summary="Lâ€™assessore  parla\u00a0oggi",
            body_text="Il consiglio votera' domani.\r\nE' una decisione attesa da tutti noi, dice il sindaco.",
            authors="di MARIO DE ROSSI e Anna Bianchi",
            tags=["bilancio, Comune", "#NATO"],
            category="  Cronaca ",
        )
    )
    assert draft.title == "Perché la città è più cara"
    assert draft.summary == "L'assessore parla oggi"
    assert (
        draft.content_text
        == "Il consiglio voterà domani.\nÈ una decisione attesa da tutti noi, dice il sindaco."
    )
    assert draft.content_html == (
        "<p>Il consiglio voterà domani.</p><p>È una decisione attesa da tutti noi, dice il sindaco.</p>"
    )
    assert draft.authors == ("Mario de Rossi", "Anna Bianchi")
    assert draft.tags == ("bilancio", "Comune", "NATO")
    assert draft.category == "Cronaca"
    assert draft.slug == "perche-la-citta-e-piu-cara"
    assert draft.language == "it"


def test_html_body_is_normalized_inside_the_markup_and_sanitized() -> None:
    draft = to_draft(
        raw(
            body_html=(
                '<p>La <b>citta\'</b> e\' pronta: “si parte” <a href="https://x.it/a" onclick="x()">qui</a>.</p>'
                "<script>alert(1)</script><pre>code' resta</pre>"
            )
        )
    )
    assert '<b>città</b> è pronta: "si parte" <a' in draft.content_html
    assert "onclick" not in draft.content_html and "<script" not in draft.content_html
    assert "code' resta" in draft.content_html
    assert draft.content_text.startswith("La città è pronta")


def test_english_article_skips_italian_only_rules() -> None:
    body = (
        "The council will meet on Monday and the mayor said that it is not a problem for the city."
    )
    draft = to_draft(raw(title="Students' union: we don't agree", body_text=body))
    assert draft.language == "en"
    assert draft.title == "Students' union: we don't agree"


def test_language_of_an_html_body_is_detected_from_its_text() -> None:
    english = (
        "<p>The council <b>will meet</b> on Monday and the mayor said that it is not a problem.</p>"
    )
    italian = "<p>Il consiglio <b>si riunira'</b> lunedi' e il sindaco ha detto che non e' un problema.</p>"
    assert to_draft(raw(title="Council", body_html=english)).language == "en"
    draft = to_draft(raw(title="Consiglio", body_html=italian))
    assert draft.language == "it"
    assert (
        draft.content_text
        == "Il consiglio si riunirà lunedì e il sindaco ha detto che non è un problema."
    )


def test_declared_language_wins() -> None:
    assert to_draft(raw(body_text="Ciao a tutti quanti.", language="it-IT")).language == "it"


def test_naive_dates_are_read_in_the_site_zone() -> None:
    draft = to_draft(raw(published=datetime(2026, 7, 1, 12, 0)), timezone="Europe/Rome")
    assert draft.published.isoformat() == "2026-07-01T12:00:00+02:00"
    text_date = to_draft(raw(published="1º marzo 2026"), timezone="Europe/Rome")
    assert text_date.published.isoformat() == "2026-03-01T00:00:00+01:00"


def test_missing_date_falls_back_then_fails() -> None:
    assert to_draft(raw(published=None, fallback_date=WHEN)).published == WHEN
    with pytest.raises(BadArticle, match="no date"):
        to_draft(raw(published=None))


def test_empty_title_after_cleaning() -> None:
    with pytest.raises(BadArticle, match="title is empty"):
        to_draft(raw(title="\u200b \u00a0"))


def test_normalize_html_keeps_spaces_between_inline_elements() -> None:
    assert normalize_html("Il <b>sindaco</b> ha <i>firmato</i>.", language="it") == (
        "Il <b>sindaco</b> ha <i>firmato</i>."
    )


def test_category_synonyms_map_to_one_section() -> None:
    rules = DraftRules(category_synonyms={"Mondo": "Esteri", "Dal mondo": "Esteri"})
    assert to_draft(raw(category="MONDO"), rules=rules).category == "Esteri"
    assert to_draft(raw(category="dal mondo"), rules=rules).category == "Esteri"
    assert to_draft(raw(category="Esteri"), rules=rules).category == "Esteri"
    assert to_draft(raw(category="Sport"), rules=rules).category == "Sport"
    assert to_draft(raw(), default_category="Mondo", rules=rules).category == "Esteri"


def test_auto_tags_are_added_only_when_asked(shared: Path) -> None:
    lines = (shared / "samples" / "seed-article.txt").read_text(encoding="utf-8").split("\n")
    sample = raw(title=lines[0], summary=lines[1], body_text="\n".join(lines[3:]), tags=["Esteri"])
    assert to_draft(sample).tags == ("Esteri",)
    tagged = to_draft(sample, rules=DraftRules(auto_tags=True)).tags
    assert tagged[0] == "Esteri"
    for name in ("Vladimir Putin", "Kim Jong Un", "Corea del Nord", "Russia", "Ucraina"):
        assert name in tagged
    assert "Putin" not in tagged
    assert len(tagged) <= 10


@pytest.mark.parametrize(
    "body",
    [
        '<html lang="it">',  # lxml asserts one <body>; this fragment makes none
        "<!DOCTYPE html><html>",
        "<p>\x0b</p>",  # a text node lxml reads but will not write back
        "<p>\x1c\x1f</p><html>",
        "<p>Un testo con \ufffe un non-carattere</p>",
        "Testo semplice con \uffff in mezzo",
    ],
)
def test_html_lxml_cannot_handle_gives_a_draft_not_a_crash(body: str) -> None:
    draft = to_draft(raw(title="Un titolo\ufffe qualunque", body_html=body))
    assert draft.title == "Un titolo qualunque"
    for text in (draft.content_html, draft.content_text):
        assert not set(text) & {"\ufffe", "\uffff", "\x0b", "\x1c", "\x1f"}


_PIECES = st.sampled_from(
    ["<p>", "</p>", "<html>", '<html lang="it">', "<body>", "<!DOCTYPE html>", "<b>", "</b>",
     "<pre>", "</pre>", "<br>", "&amp;", "&#1;", "testo", " ", "\n", "città", "E'"]
)  # fmt: skip
_ODD = st.sampled_from([chr(c) for c in range(32)] + ["\x7f", "\ufffe", "\uffff", "\u2028"])


@given(st.lists(st.one_of(_PIECES, _ODD), max_size=12))
def test_any_markup_and_control_characters_give_a_draft_or_bad_article(parts: list[str]) -> None:
    with contextlib.suppress(BadArticle):
        to_draft(raw(body_html="".join(parts)))


# Bodies of bare paragraphs (what plain Markdown renders to) are normalized without an
# HTML parser; the drafts must be the very ones the parsing path gives.
_PARAGRAPH_PIECES = st.sampled_from(
    [
        "Il sindaco",
        "è",
        "perche'",
        "citta'",
        "l' acqua",
        "l’assessore",
        "“basta”",
        "&quot;detto&quot;",
        "PerchÃ©",
        "cittÃ\xa0",
        "Â«sìÂ»",
        "« no »",
        " - ",
        "...",
        " ,",
        "( x )",
        "pò",
        "É",
        "nè",
        "https://x.it/a'b",
        "a@b.it",
        "`co' de`",
        "ﬁ",
        "the city council",
        "le conseil",
        "e\u0301",
        "\xa0",
        "😀",
        " ",
        "\n",
    ]
)
_BARE_BODIES = st.lists(
    st.tuples(
        st.lists(_PARAGRAPH_PIECES, min_size=1, max_size=12).map("".join),
        st.sampled_from(["", "\n"]),
    ),
    min_size=1,
    max_size=5,
).map(lambda paragraphs: "".join(f"<p>{text}</p>{after}" for text, after in paragraphs))


@settings(max_examples=300, deadline=None)
@given(_BARE_BODIES, st.sampled_from([None, "en", "it"]))
def test_bare_paragraphs_give_the_drafts_of_the_parser(body: str, language: str | None) -> None:
    article = raw(body_html=body, language=language)
    with mock.patch("ingest.normalize.bare_paragraphs", return_value=None):
        parsed = to_draft(article)
    assert to_draft(article) == parsed


def test_a_bare_paragraphs_body_is_read_as_such() -> None:
    draft = to_draft(raw(body_html="<p>La citta' e' &quot;pronta&quot;\nda ieri</p>\n<p>Poi</p>\n"))
    assert draft.content_html == '<p>La città è "pronta" da ieri</p>\n<p>Poi</p>'
    assert draft.content_text == 'La città è "pronta" da ieri\nPoi'
