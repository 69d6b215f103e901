"""Titles are plain text: HTML entities decoded however often escaped, tags removed."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.normalize import normalize_summary, normalize_title
from tests.conftest import example_cases

# Where a browser or a validator reading a title as HTML would see a tag begin.
_TAG = re.compile(r"<[A-Za-z/!?]")


# Examples by what they show: one test case each, its id the name and number.
TITLES: dict[str, list[tuple[str, str]]] = {
    "entity-escaped-again": [
        ("Bollette &amp;amp; tariffe", "Bollette & tariffe"),
        ("Bollette &amp;amp;amp;amp; tariffe", "Bollette & tariffe"),
        ("La citt&amp;agrave; si ferma", "La città si ferma"),
    ],
    "numeric-entity": [("Caff&#232; e t&#xE8;", "Caffè e tè")],
    "tag-removed": [
        ("<b>Allerta</b> meteo", "Allerta meteo"),
        ("&lt;b&gt;Allerta&lt;/b&gt; meteo", "Allerta meteo"),
        ("&amp;lt;i&amp;gt;Neve&amp;lt;/i&amp;gt; in collina", "Neve in collina"),
        ("Allerta<br>meteo", "Allerta meteo"),
        ("Neve <b in <i>collina</i>", "Neve collina"),
        ("Neve in <b", "Neve in"),
        ("Scuole <!-- nota --> chiuse", "Scuole chiuse"),
    ],
    "angle-bracket-not-a-tag": [
        ("a < b", "a < b"),
        ("a &lt; b", "a < b"),
        ("3<4 e 5>2", "3<4 e 5>2"),
    ],
    "ampersand-not-an-entity": [
        ("AT&T e Q&A", "AT&T e Q&A"),
        ("Prezzi &amp tariffe", "Prezzi &amp tariffe"),
        ("Il mercato &unknown; riapre", "Il mercato &unknown; riapre"),
    ],
}


@pytest.mark.parametrize(("raw", "expected"), example_cases(TITLES))
def test_title_examples(raw: str, expected: str) -> None:
    assert normalize_title(raw) == expected


def test_a_summary_keeps_its_text_as_given() -> None:
    # Summaries come out of the HTML extractor already decoded: a literal tag in them
    # is text the source wrote, not markup to drop a second time.
    assert normalize_summary("Si scrive &lt;b&gt; per il grassetto") == (
        "Si scrive &lt;b&gt; per il grassetto"
    )


_PIECES = [
    *"ab è<>&;/!? #\u200b\xa0\n",
    *["&amp;", "&lt;", "&gt;", "amp;", "lt;", "gt;", "#38;", "&#60;", "<b>", "</b>", "<br>"],
    *["<!--", "-->", "&egrave;", "&#0;", "&#x80;", "<?x", "Allerta"],
]
_TITLES = st.lists(st.one_of(st.sampled_from(_PIECES), st.characters()), max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(_TITLES)
def test_titles_are_idempotent_and_tag_free(text: str) -> None:
    once = normalize_title(text)
    assert normalize_title(once) == once
    assert _TAG.search(once) is None
    assert "\n" not in once


@pytest.mark.parametrize(
    "text",
    [
        "&" + "amp;" * 25_000 + "lt;b&gt;",
        "&#38;" * 20_000,
        "&lt;b&gt;" * 11_000,
        "<b" * 50_000,
        "<" * 100_000,
    ],
)
def test_hostile_titles_take_linear_time(text: str) -> None:
    start = time.perf_counter()
    once = normalize_title(text)
    assert time.perf_counter() - start < 0.5
    assert _TAG.search(once) is None
