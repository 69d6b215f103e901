"""Metadata rules: dates, authors, categories, tags, slugs, reading time, language, auto tags."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ingest.normalize import (
    _lang,
    auto_tags,
    canonical_category,
    detect_language,
    make_slug,
    normalize_authors,
    normalize_tags,
    parse_date,
    reading_time,
    unique_slug,
)
from tests.conftest import example_cases

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=ROME)

# ------------------------------------------------------------------------------ dates


# Each group's examples, read at NOW: one test case each, its id the group and number.
# The "cheap" forms are read without dateparser.
DATES: dict[str, list[tuple[str, str]]] = {
    "cheap-iso": [
        ("2024-06-19T08:30:00Z", "2024-06-19T10:30:00+02:00"),
        ("2024-06-19T08:30:00+00:00", "2024-06-19T10:30:00+02:00"),
        ("2024-06-19 08:30", "2024-06-19T08:30:00+02:00"),
        ("2024-01-19", "2024-01-19T00:00:00+01:00"),
    ],
    "cheap-rfc-822": [
        ("Wed, 19 Jun 2024 08:30:00 GMT", "2024-06-19T10:30:00+02:00"),
        ("Wed, 19 Jun 2024 08:30:00 +0200", "2024-06-19T08:30:00+02:00"),
    ],
    "cheap-italian": [
        ("1 luglio 2024", "2024-07-01T00:00:00+02:00"),
        ("Pubblicato il 1º luglio 2024", "2024-07-01T00:00:00+02:00"),
        ("Aggiornato il 3 marzo 2025 alle 18:05", "2025-03-03T18:05:00+01:00"),
        ("lunedì 1 luglio 2024, ore 10:30", "2024-07-01T10:30:00+02:00"),
        ("12 gen 2025", "2025-01-12T00:00:00+01:00"),
        ("1° dicembre 2023", "2023-12-01T00:00:00+01:00"),
    ],
    "cheap-numeric": [
        ("19/06/2024", "2024-06-19T00:00:00+02:00"),
        ("19.06.2024 10:30", "2024-06-19T10:30:00+02:00"),
    ],
    "relative-to-fetch-time": [
        ("ieri", "2026-11-27T00:00:00+01:00"),
        ("oggi", "2026-11-28T00:00:00+01:00"),
        ("l'altro ieri", "2026-11-26T00:00:00+01:00"),
        ("2 ore fa", "2026-11-28T10:00:00+01:00"),
        ("un'ora fa", "2026-11-28T11:00:00+01:00"),
        ("5 minuti fa", "2026-11-28T11:55:00+01:00"),
        ("3 giorni fa", "2026-11-25T00:00:00+01:00"),
        ("2 settimane fa", "2026-11-14T00:00:00+01:00"),
        ("1 mese fa", "2026-10-28T00:00:00+01:00"),
        ("yesterday", "2026-11-27T00:00:00+01:00"),
        ("3 hours ago", "2026-11-28T09:00:00+01:00"),
    ],
    "dateparser-fallback": [
        ("10 marzo alle 9:15", "2026-03-10T09:15:00+01:00"),  # the past, not next March
        ("luglio 2024", "2024-07-01T00:00:00+02:00"),  # a month alone is its first day
    ],
}


@pytest.mark.parametrize(("text", "expected"), example_cases(DATES))
def test_dates(text: str, expected: str) -> None:
    parsed = parse_date(text, now=NOW)
    assert parsed is not None
    assert parsed.isoformat() == expected


def test_dates_naive_now_is_read_in_the_site_timezone() -> None:
    parsed = parse_date("2 ore fa", now=datetime(2026, 11, 28, 12, 0))
    assert parsed == datetime(2026, 11, 28, 10, 0, tzinfo=ROME)


def test_dates_default_now_and_awareness() -> None:
    parsed = parse_date("ieri")
    assert parsed is not None and parsed.tzinfo is not None
    assert datetime.now(ROME) - parsed < timedelta(days=2, hours=1)


def test_dates_other_timezone() -> None:
    parsed = parse_date("2024-06-19", tz="UTC")
    assert parsed is not None
    assert parsed.isoformat() == "2024-06-19T00:00:00+00:00"


@pytest.mark.parametrize("junk", ["", "   ", "non è una data", "32/13/2024", "x" * 10_000])
def test_dates_junk_is_none(junk: str) -> None:
    assert parse_date(junk, now=NOW) is None


def test_dates_bad_timezone_is_none_not_an_error() -> None:
    assert parse_date("2024-06-19", tz="Mars/Olympus") is None


def test_dateparser_is_imported_lazily() -> None:
    code = (
        "import sys\n"
        "from ingest.normalize import parse_date\n"
        "parse_date('Wed, 19 Jun 2024 08:30:00 GMT'); parse_date('1 luglio 2024')\n"
        "print('dateparser' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------------------- authors


@pytest.mark.parametrize(
    ("byline", "expected"),
    [
        ("Anna Verdi e Luca D'Amico, Anna Verdi", ["Anna Verdi", "Luca D'Amico"]),
        ("di Mario Rossi", ["Mario Rossi"]),
        ("a cura di Mario Rossi", ["Mario Rossi"]),
        ("By John Smith & Jane Doe", ["John Smith", "Jane Doe"]),
        ("redazione@example.it (Anna Verdi)", ["Anna Verdi"]),
        ("Anna Verdi <anna@example.it>", ["Anna Verdi"]),
        ("MARIO DE ROSSI; LUCA D'AMICO", ["Mario de Rossi", "Luca D'Amico"]),
        ("GIULIA DELLA VALLE", ["Giulia della Valle"]),
        ("Luigi Di Maio", ["Luigi Di Maio"]),
        ("Di Maio", ["Di Maio"]),
        ("  ", []),
    ],
)
def test_authors(byline: str, expected: list[str]) -> None:
    assert normalize_authors(byline) == expected


# ------------------------------------------------------------------------- categories

SYNONYMS = {"Mondo": "Esteri", "Internazionale": "Esteri", "Cronaca locale": "Cronaca"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Mondo", "Esteri"),
        ("INTERNAZIONALE", "Esteri"),
        (" mondo ", "Esteri"),
        ("esteri", "Esteri"),
        ("Cronaca  locale", "Cronaca"),
        ("Sport", "Sport"),
        ("ECONOMIA", "Economia"),
    ],
)
def test_categories_through_synonyms(name: str, expected: str) -> None:
    assert canonical_category(name, SYNONYMS) == expected


# ------------------------------------------------------------------------------- tags


TAGS: dict[str, list[tuple[list[str] | str, list[str]]]] = {
    "split-strip-dedupe": [
        (["Politica, politica", " ESTERI ;#Ue", "", "NATO"], ["Politica", "Esteri", "Ue", "NATO"])
    ],
    "pipes-hashes-and-accents-dedupe-by-slug": [
        ("#Città | citta | Caffè;caffe", ["Città", "Caffè"])
    ],
    "acronyms-kept-shouting-recased": [
        (["UE", "ONU", "COVID", "CORTE DEI CONTI"], ["UE", "ONU", "Covid", "Corte dei Conti"])
    ],
    "at-most-ten": [([f"tema {i}" for i in range(25)], [f"tema {i}" for i in range(10)])],
}


@pytest.mark.parametrize(("values", "tags"), example_cases(TAGS))
def test_tags(values: list[str] | str, tags: list[str]) -> None:
    assert normalize_tags(values) == tags


# ------------------------------------------------------------------------------- slug


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("L'Italia è più forte", "l-italia-e-piu-forte"),
        ("D’Alema: «Non è così»", "d-alema-non-e-cosi"),
        ("Manovra da 1.000 miliardi", "manovra-da-1000-miliardi"),
        ("Crescita del 2,5% nel 2024", "crescita-del-2-5-nel-2024"),
        ("Perche' cresce l'inflazione", "perche-cresce-l-inflazione"),
        pytest.param("x" * 200, "x" * 80, id="long-single-word-is-hard-cut"),
    ],
)
def test_slug(title: str, slug: str) -> None:
    assert make_slug(title) == slug


def test_slug_cut_at_a_hyphen_within_80() -> None:
    title = "parola " * 20 + "a b c"
    slug = make_slug(title)
    assert len(slug) <= 80
    assert slug.endswith("parola")  # no short later words appended after the cut
    assert not slug.endswith("-")


def test_unique_slug_per_section() -> None:
    assert unique_slug("sciopero", set()) == "sciopero"
    assert unique_slug("sciopero", {"sciopero"}) == "sciopero-2"
    assert unique_slug("sciopero", {"sciopero", "sciopero-2"}) == "sciopero-3"
    long_slug = make_slug("parola " * 20)
    assert len(unique_slug(long_slug, {long_slug})) <= 80


# ----------------------------------------------------------------------- reading time


def test_reading_time() -> None:
    assert reading_time("") == 1
    assert reading_time("una parola") == 1
    assert reading_time("parola " * 230) == 1
    assert reading_time("parola " * 460) == 2
    assert reading_time("parola " * 800) == 3  # 3.48 minutes, rounded


# --------------------------------------------------------------------------- language


# (text, declared language, code): one test case each, its id the name.
LANGUAGES: dict[str, list[tuple[str, str | None, str | None]]] = {
    "it-from-body": [
        ("Il consiglio comunale ha approvato il nuovo piano per la mobilità urbana.", None, "it")
    ],
    "en-from-body": [
        ("The city council approved the new plan for urban mobility last night.", None, "en")
    ],
    "fr-from-body": [
        ("Le conseil municipal a approuvé le nouveau plan de mobilité urbaine.", None, "fr")
    ],
    "de-from-body": [
        (
            "Der Stadtrat hat den neuen Plan für die Mobilität und die Radwege genehmigt.",
            None,
            "de",
        )
    ],
    "es-from-body": [
        ("El ayuntamiento aprobó el nuevo plan de movilidad urbana y los carriles.", None, "es")
    ],
    "pt-from-body": [
        (
            "A câmara municipal aprovou o novo plano de mobilidade urbana e as ciclovias.",
            None,
            "pt",
        )
    ],
    "unsure-is-none": [("", None, None), ("Putin Kim", None, None)],
    "declared-wins": [
        ("The council approved the plan.", "it-IT", "it"),
        ("Il consiglio ha approvato.", "en_GB", "en"),
    ],
}


@pytest.mark.parametrize(("text", "declared", "code"), example_cases(LANGUAGES))
def test_language(text: str, declared: str | None, code: str | None) -> None:
    assert detect_language(text, declared=declared) == code


# ---------------------------------------------------------------------------- auto tags


def test_auto_tags_phrases_with_particles() -> None:
    text = (
        "Il governo della Repubblica Ceca incontra la Corea del Sud. "
        "Mentre Roma aspetta, Mario Draghi parla con il presidente della Banca d'Italia. "
        "Nonostante tutto, Roma resta ferma."
    )
    tags = auto_tags(text)
    assert "Corea del Sud" in tags
    assert "Repubblica Ceca" in tags
    assert "Mario Draghi" in tags
    assert "Roma" in tags
    assert "Mentre" not in tags and "Nonostante" not in tags and "Il" not in tags


def test_auto_tags_elided_names() -> None:
    assert auto_tags("Le armi all'Ucraina e le scelte dell'Ucraina.") == ["Ucraina"]


def test_auto_tags_name_a_person_once() -> None:
    text = (
        "Putin ha parlato per due ore. Il presidente russo Vladimir Putin ha poi ricevuto "
        "Kim Jong Un nella capitale, e Kim ha promesso sostegno. Secondo Putin l'intesa durerà; "
        "Kim tornerà a Pyongyang domani."
    )
    tags = auto_tags(text)
    assert tags[:2] == ["Vladimir Putin", "Kim Jong Un"]  # the most mentioned, first seen first
    assert "Putin" not in tags and "Kim" not in tags
    assert "Pyongyang" in tags


def test_auto_tags_a_surname_of_two_people_stays_itself() -> None:
    # Which Kim is meant is not known: no guess.
    text = "Kim Jong Un e la sorella Kim Yo Jong erano presenti. Kim ha parlato per primo."
    assert sorted(auto_tags(text)) == ["Kim", "Kim Jong Un", "Kim Yo Jong"]


def test_auto_tags_a_longer_part_of_a_name_is_the_name() -> None:
    text = "Arriva Kim Jong Un in treno. Kim Jong ha salutato, e poi Kim ha parlato."
    assert auto_tags(text) == ["Kim Jong Un"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Forza Italia chiede fondi. In Italia la spesa cresce, dice Forza Italia.",
            ["Forza Italia", "Italia"],
        ),
        ("Il Sud Africa vota. In Africa si guarda al Sud Africa.", ["Sud Africa", "Africa"]),
        ("La Corea del Nord minaccia. La Corea resta divisa.", ["Corea del Nord", "Corea"]),
        ("Vince la AS Roma. A Roma si festeggia fino a tardi.", ["AS Roma", "Roma"]),
        (
            "Parla il Presidente Mattarella. A sera Mattarella firma la legge.",
            ["Presidente Mattarella", "Mattarella"],
        ),
    ],
    ids=["party", "country", "particle", "acronym", "title"],
)
def test_auto_tags_places_and_bodies_keep_their_short_name(text: str, expected: list[str]) -> None:
    assert sorted(auto_tags(text)) == sorted(expected)


# Made-up names (a consonant-vowel pattern ending in k, v, x or z) that no Italian word,
# title or particle can be.
_MADE_UP_NAME = st.from_regex(r"[BCDFGLMNPRSTV][aeiou][bcdfglmnprstv][aeiou][kvxz]", fullmatch=True)


# Timing is test_auto_tags_is_fast's job: a busy machine must not fail this one.
@settings(deadline=None)
@given(first=_MADE_UP_NAME, last=_MADE_UP_NAME, short_first=st.booleans())
def test_auto_tags_any_full_name_absorbs_its_short_mentions(
    first: str, last: str, short_first: bool
) -> None:
    assume(first != last)
    full = f"{first} {last}"
    opening = f"Ieri sera {last} ha chiamato." if short_first else "Ieri sera nessuno ha chiamato."
    text = (
        f"{opening} Il ministro {full} ha parlato in aula. "
        f"Poi {last} ha lasciato il palazzo, e {last} è partito per Bruxelles."
    )
    assert auto_tags(text) == [full, "Bruxelles"]


def test_auto_tags_is_fast() -> None:
    text = (
        "Il presidente Sergio Mattarella ha incontrato a Roma il cancelliere tedesco. "
        "Questo incontro, secondo la Farnesina, rafforza i legami tra Italia e Germania. "
    ) * 13  # about 2 KB
    auto_tags(text)
    best = min(_elapsed(lambda: auto_tags(text)) for _ in range(20))
    assert best < 0.001


def _elapsed(function: object) -> float:
    assert callable(function)
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def test_the_common_characters_class_is_the_word_class() -> None:
    """Each character the spelled-out class covers is a letter to it exactly when it is
    one to `[^\\W\\d_]` (every one checked)."""
    for code in _lang.COMMON_CHARS:
        char = chr(code)
        assert bool(_lang.COMMON_WORD_RE.fullmatch(char)) == bool(_lang.WORD_RE.fullmatch(char))
        assert not _lang.UNCOMMON_RE.match(char)


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        alphabet=st.one_of(
            st.sampled_from("aèé ’'«»–—…€²½ªº_1٣ßİ\u0301\u00a0\n"),
            st.characters(),
        ),
        max_size=60,
    )
)
def test_language_words_are_the_word_regex_runs(text: str) -> None:
    assert _lang.words(text) == re.findall(r"[^\W\d_]+", text)


def _scores_per_language(text: str) -> dict[str, int]:
    """The stopword scores as first written: an intersection and a sum per language."""
    counts = Counter(_lang.words(text[: _lang.SAMPLE_CHARS].lower()))
    present = set(counts)
    return {
        language: sum(counts[word] for word in stopwords.intersection(present))
        for language, stopwords in _lang.STOPWORDS.items()
    }


def _detect_per_language(text: str) -> str | None:
    scores = _scores_per_language(text)
    if not any(_lang.words(text[: _lang.SAMPLE_CHARS].lower())):
        return None
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    return None if top < _lang.MIN_HITS or top == second else best


_STOPWORD_TEXTS = st.lists(
    st.one_of(
        st.sampled_from(sorted(_lang.ALL_STOPWORDS)),
        st.sampled_from(["casa", "Il", "THE", "l'", "dell'", "è", "Ü", "1", "_"]),
    ),
    max_size=40,
).flatmap(lambda words: st.sampled_from([" ".join(words), ",".join(words), "".join(words)]))


@settings(max_examples=500, deadline=None)
@given(_STOPWORD_TEXTS)
def test_detection_counts_each_stopword_for_each_of_its_languages(text: str) -> None:
    # Words shared by languages (``la``, ``de``, ``a``...) count for each of them.
    assert detect_language(text) == _detect_per_language(text)
