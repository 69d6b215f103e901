"""The shared Italian normalization corpus and the shared sample article, end to end."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.normalize import (
    auto_tags,
    detect_language,
    html_to_text,
    make_slug,
    normalize_authors,
    normalize_summary,
    normalize_tags,
    normalize_text,
    normalize_title,
    parse_date,
    reading_time,
)


def _shared_file(*parts: str) -> Path | None:
    """A file of the read-only shared folder: beside the checkout, then
    ``RASSEGNA_SHARED_DIR``, then ``/work/shared``."""
    candidates = [
        Path(__file__).resolve().parents[2] / "shared",
        Path(os.environ["RASSEGNA_SHARED_DIR"]) if os.environ.get("RASSEGNA_SHARED_DIR") else None,
        Path("/work/shared"),
    ]
    for base in candidates:
        if base is not None and base.joinpath(*parts).is_file():
            return base.joinpath(*parts)
    return None


CORPUS_PATH = _shared_file("corpus", "italian-normalization.json")
SAMPLE_PATH = _shared_file("samples", "seed-article.txt")
CORPUS: list[dict[str, Any]] = (
    json.loads(CORPUS_PATH.read_text(encoding="utf-8")) if CORPUS_PATH else []
)
needs_corpus = pytest.mark.skipif(
    CORPUS_PATH is None,
    reason="shared/corpus/italian-normalization.json not found (set RASSEGNA_SHARED_DIR)",
)
needs_sample = pytest.mark.skipif(
    SAMPLE_PATH is None,
    reason="shared/samples/seed-article.txt not found (set RASSEGNA_SHARED_DIR)",
)


# The API function the corpus README maps each rule family to, by the start of its name
# (dates apart: they also read the case's "now").
_FAMILIES: dict[str, Callable[[Any], object]] = {
    "text.": normalize_text,
    "body.": normalize_text,
    "trap.": normalize_text,
    "title.": normalize_title,
    "html.": html_to_text,
    "meta.authors": normalize_authors,
    "meta.tags": normalize_tags,
    "meta.slug": make_slug,
    "meta.reading_time": reading_time,
    "meta.language": detect_language,
}


def _run_case(case: dict[str, Any]) -> object:
    """Call the API function the corpus README maps the rule family to."""
    rule: str = case["rule"]
    value = case["input"]
    if rule.startswith("meta.date"):
        now = datetime.fromisoformat(case["now"]) if "now" in case else None
        parsed = parse_date(value, now=now)
        return None if parsed is None else parsed.isoformat()
    for family, function in _FAMILIES.items():
        if rule.startswith(family):
            return function(value)
    raise AssertionError(f"unknown rule family {rule!r}")


@needs_corpus
def test_corpus_is_not_empty() -> None:
    assert len(CORPUS) > 0


@needs_corpus
@pytest.mark.parametrize(
    "case", CORPUS, ids=[f"{i:03d}-{case['rule']}" for i, case in enumerate(CORPUS)]
)
def test_corpus_case(case: dict[str, Any]) -> None:
    assert _run_case(case) == case["expected"]


@needs_corpus
@pytest.mark.parametrize(
    "case",
    [case for case in CORPUS if case["rule"].startswith(("text.", "body.", "trap.", "title."))],
    ids=lambda case: str(case["rule"]),
)
def test_corpus_output_is_stable(case: dict[str, Any]) -> None:
    """Idempotence on real cases: the expected output is a fixed point."""
    function = normalize_title if case["rule"].startswith("title.") else normalize_text
    assert function(case["expected"]) == case["expected"]


# --------------------------------------------------------------------- the sample article


def _sample() -> tuple[str, str, str]:
    """(title, standfirst, body) of the shared sample: line 1, line 2, lines 4 on."""
    assert SAMPLE_PATH is not None
    lines = SAMPLE_PATH.read_text(encoding="utf-8").split("\n")
    return lines[0], lines[1], "\n".join(lines[3:]).strip("\n")


_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
_FINAL_ACCENT = re.compile(r"(?<=\w)([àèéìòù])(?=[\s.,;:!?]|$)", re.MULTILINE)
_UNACCENT = str.maketrans("àèéìòù", "aeeiou")


def _damage(text: str) -> str:
    """What feeds do to Italian text: apostrophe accents, curly quotes, NBSPs, mojibake
    (UTF-8 bytes read as cp1252, undefined bytes kept as Latin-1), CRLF."""
    # Every other final accent becomes an apostrophe; the rest goes through mojibake.
    counter = iter(range(len(text)))
    text = _FINAL_ACCENT.sub(
        lambda m: m.group(1) if next(counter) % 2 else m.group(1).translate(_UNACCENT) + "'",
        text,
    )
    text = re.sub(r"(?<=\w)'(?=\w)", "\u2019", text)
    text = re.sub(r'"([^"\n]*)"', "\u201c\\1\u201d", text)
    words = text.split(" ")
    text = (
        "".join(word + ("\xa0" if i % 7 == 3 else " ") for i, word in enumerate(words[:-1]))
        + words[-1]
    )
    text = "".join(
        chr(byte) if byte in _CP1252_UNDEFINED else bytes([byte]).decode("cp1252")
        for byte in text.encode("utf-8")
    )
    return text.replace("\n", "\r\n")


def _normalized(title: str, standfirst: str, body: str) -> tuple[str, str, str]:
    """The three parts of an article as the normalizer leaves them, each by its own rule."""
    return normalize_title(title), normalize_summary(standfirst), normalize_text(body)


@needs_sample
def test_sample_clean_text_comes_through_unchanged() -> None:
    sample = _sample()
    assert _normalized(*sample) == sample


@needs_sample
def test_sample_damaged_copy_is_repaired() -> None:
    title, standfirst, body = _sample()
    damaged_title, damaged_standfirst, damaged_body = (
        _damage(title), _damage(standfirst), _damage(body)
    )  # fmt: skip
    # The damage is real: every field differs before normalization.
    assert damaged_body != body
    for symptom in ("\r\n", "Â\xa0", "â€", "Ã", "a' "):
        assert symptom in damaged_body
    assert _normalized(damaged_title, damaged_standfirst, damaged_body) == (title, standfirst, body)


@needs_sample
def test_sample_damaged_without_mojibake_is_repaired() -> None:
    """The apostrophe accents alone (no ftfy involved) are repaired too."""
    _, _, body = _sample()
    damaged = _FINAL_ACCENT.sub(lambda m: m.group(1).translate(_UNACCENT) + "'", body)
    assert damaged != body
    assert normalize_text(damaged) == body


@needs_sample
def test_sample_auto_tags() -> None:
    title, standfirst, body = _sample()
    tags = auto_tags("\n".join([title, standfirst, body]))
    for expected in ("Vladimir Putin", "Kim Jong Un", "Corea del Nord", "Russia", "Ucraina"):
        assert expected in tags
    # The sample names Putin and Kim in full once and by their short names again and again:
    # each person is one tag, the full name.
    assert "Putin" not in tags and "Kim" not in tags
    for common in ("Questo", "Mentre", "Nonostante", "Durante", "Il"):
        assert common not in tags
    assert len(tags) <= 10


@needs_sample
def test_sample_metadata() -> None:
    title, _, body = _sample()
    assert detect_language(body) == "it"
    assert reading_time(body) >= 1
    slug = make_slug(title)
    assert slug == slug.lower() and " " not in slug and len(slug) <= 80
    assert slug.startswith("accordo-di-difesa")
