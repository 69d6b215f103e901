"""The shortcuts around ftfy (rule T4) give exactly what ftfy itself gives.

The normalizer hands ftfy only the lines it would change, straightens curly quotes itself
when that is all ftfy would do, and skips ftfy's badness search on lines that cannot
match it. These tests hold the shortcuts to ftfy's own answers, so a new ftfy release
that changes its rules fails here rather than changing our output unnoticed.
"""

from __future__ import annotations

import unicodedata

import ftfy
from ftfy.badness import MOJIBAKE_CATEGORIES, is_bad
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.normalize import (
    BADNESS_GATE,
    FTFY_CONFIG,
    declared_language,
    fix_mojibake,
    is_bad_segment,
    normalize_text,
)

# Characters ftfy's rules look at: its badness classes (ranges written as endpoints),
# mojibake lead bytes, curly quotes, ligatures, width forms, controls, plus plain Italian.
_FTFY_CHARS = sorted(
    set("".join(MOJIBAKE_CATEGORIES.values()))
    | set("ÃÂÎÐØÙ×²³°√≈‚Äβ€āвЂГўВΒΓΞΟœŒ\x80\x85\x92\x9d\x1b\x00\x7f\u2028\ufb01\ufeff\uff35")
    | set("abcdeXYZ .,;:!?'\"\n\xa0\u00adàèéìòùÈÉ«»‘’“”ʼ–—…")
)
_LINES = st.lists(st.sampled_from(_FTFY_CHARS), max_size=40).map("".join)


@settings(max_examples=600, deadline=None)
@given(_LINES)
def test_fix_mojibake_equals_ftfy_fix_text(text: str) -> None:
    text = unicodedata.normalize("NFC", text)  # what the layout step hands it
    assert fix_mojibake(text) == ftfy.fix_text(text, FTFY_CONFIG)


@settings(max_examples=1000, deadline=None)
@given(_LINES)
def test_badness_gate_never_hides_a_bad_line(text: str) -> None:
    assert is_bad_segment(text) == is_bad(text)


def test_badness_gate_is_active_and_skips_plain_italian() -> None:
    assert BADNESS_GATE is not None
    assert BADNESS_GATE.search("Perché la città è più bella, però già così") is None
    assert BADNESS_GATE.search("perchÃ© la cittÃ ") is not None


def test_mojibake_paragraph_fixed_and_quoted_one_straightened() -> None:
    body = "La cittÃ  Ã¨ piÃ¹ bella.\n“Bene”, ha detto l’assessora.\nNessun problema qui."
    assert normalize_text(body) == (
        'La città è più bella.\n"Bene", ha detto l\'assessora.\nNessun problema qui.'
    )


def test_declared_language_is_the_primary_subtag() -> None:
    assert declared_language("it-IT") == "it"
    assert declared_language("en_GB") == "en"
    assert declared_language("") is None
    assert declared_language(None) is None
    assert declared_language("italiano") is None
