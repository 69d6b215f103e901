"""The shortcuts around ftfy (rule T4) give exactly what ftfy itself gives.

The normalizer hands ftfy only the lines it would change, straightens curly quotes itself
when that is all ftfy would do, and skips ftfy's badness search on lines that cannot
match it. These tests hold the shortcuts to ftfy's own answers, so a new ftfy release
that changes its rules fails here rather than changing our output unnoticed.
"""

from __future__ import annotations

import sys
import unicodedata

import ftfy
import pytest
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
from ingest.normalize._mojibake import (
    FTFY_LOOP_VERSION,
    GATED_FIXERS,
    SUSPICIOUS_RE,
    fix_segment,
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


# ------------------------------------------------- ftfy's loop without idle fixers


def test_each_gated_fixer_leaves_text_without_its_characters_alone() -> None:
    # Every code point the gate does not name, in one text (the fixers work character by
    # character, or on sequences that start with a gated character).
    for gate, fixer in GATED_FIXERS:
        text = "".join(
            char for char in map(chr, range(sys.maxunicode + 1)) if gate.search(char) is None
        )
        assert fixer(text) == text, fixer.__name__


def test_the_copied_loop_is_for_the_installed_ftfy() -> None:
    # `fix_segment` copies `ftfy.fix_and_explain`'s loop of one version; another version
    # falls back to ftfy itself (the same output, slower), so a new ftfy release must not
    # fail the suite: it shows here as a skip saying what to check.
    if ftfy.__version__ != FTFY_LOOP_VERSION:
        pytest.skip(
            f"ftfy {ftfy.__version__} is installed; fix_segment copies the loop of ftfy"
            f" {FTFY_LOOP_VERSION} and falls back to ftfy.fix_text: compare"
            " ftfy.fix_and_explain and update FTFY_LOOP_VERSION"
        )
    text = "PerchÃ© lâ€™Ã¨ cosÃ¬"
    assert fix_segment(text) == ftfy.fix_text(text, FTFY_CONFIG) == "Perché l'è così"


def _mojibake(text: str, encoding: str) -> str:
    return text.encode("utf-8").decode(encoding, errors="replace")


_MOJIBAKE_LINES = st.one_of(
    _LINES,
    st.builds(
        _mojibake,
        st.text(st.sampled_from([*_FTFY_CHARS, "€", "™", "ł", "ś", "中", "😀"]), max_size=30),
        st.sampled_from(["cp1252", "latin-1", "cp437", "mac-roman"]),
    ),
).flatmap(lambda line: st.sampled_from([line, line + "\n"]))


@settings(max_examples=1500, deadline=None)
@given(_MOJIBAKE_LINES)
def test_fix_segment_equals_ftfy_fix_text(line: str) -> None:
    assert fix_segment(line) == ftfy.fix_text(line, FTFY_CONFIG)


def test_a_grave_lost_is_looked_for_only_in_suspicious_text() -> None:
    # The text rules look for ``Ã`` (a lost ``à``) only where SUSPICIOUS_RE matched.
    assert SUSPICIOUS_RE.fullmatch("Ã")
    assert normalize_text("la cittÃ") == "la città"
