"""Full-text search: the query language, both databases' indexes kept in step, the CLI."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from db.analysis import APOSTROPHES, WORD, analyze, drop_elisions, fold, index_text, stem, words
from db.query import MAX_QUERY_CHARS, MAX_TERMS, ParsedQuery, QueryError, parse_query, tsquery_text
from db.records import SourceSpec
from db.search import SNIPPET_OPEN, fts5_query, snippet
from db.store import Store
from tests.conftest import run_cli, write_config
from tests.factories import SEARCH_WHEN as WHEN
from tests.factories import search_draft as draft
from tests.factories import seed_draft


def titles(store: Store, query: str, **filters: object) -> set[str]:
    return {hit.title for hit in store.search(query, **filters)}  # type: ignore[arg-type]


@pytest.fixture
def stocked(any_store: Store, shared: Path) -> Store:
    source = any_store.ensure_source(SourceSpec("Agenzia", "files", "/tmp/agenzia"))
    any_store.upsert_articles(
        source,
        [
            seed_draft(shared),
            draft("citta", "Traffico in città", "Il sindaco chiude il centro.", category="Cronaca"),
            draft("voto", "Le elezioni comunali", "Si vota domenica.", category="Politica"),
            draft(
                "sport",
                "Derby al consiglio comunale",
                "Il consiglio comunale parla di sport e calcio.",
                tags=("Calcio", "Stracittadina"),
            ),
            draft("ucraina", "Aiuti all'Ucraina", "Nuovi aiuti dell'Europa."),
        ],
    )
    return any_store


SEED = "Accordo di difesa reciproca tra Putin e Kim"


def test_the_shared_sample_is_found_as_a_reader_expects(stocked: Store, shared: Path) -> None:
    title = seed_draft(shared).title
    assert title in titles(stocked, "Corea del Nord")
    assert title in titles(stocked, "Pyongyang")
    assert title in titles(stocked, "pyongyang")
    assert title in titles(stocked, '"difesa reciproca"')
    assert title not in titles(stocked, "putin -ucraina")
    # ...because the exclusion works, not because `putin` finds nothing.
    assert title in titles(stocked, "putin")


def test_accents_are_optional_and_words_are_stemmed(stocked: Store) -> None:
    assert titles(stocked, "citta") == {"Traffico in città"}
    assert titles(stocked, "CITTÀ") == {"Traffico in città"}
    assert titles(stocked, "elezione") == {"Le elezioni comunali"}
    assert titles(stocked, "votare") == {"Le elezioni comunali"}


def test_elisions_match_the_bare_word(stocked: Store) -> None:
    assert "Aiuti all'Ucraina" in titles(stocked, "l'Ucraina")
    assert "Aiuti all'Ucraina" in titles(stocked, "ucraina")
    assert "Aiuti all'Ucraina" in titles(stocked, "europa")
    assert "Aiuti all'Ucraina" in titles(stocked, "L’Europa")


def test_phrases_or_and_exclusions(stocked: Store) -> None:
    assert titles(stocked, '"consiglio comunale"') == {"Derby al consiglio comunale"}
    # The words appear, but not next to each other.
    assert titles(stocked, '"comunale consiglio"') == set()
    assert titles(stocked, "comunale") == {"Le elezioni comunali", "Derby al consiglio comunale"}
    assert titles(stocked, "comunale -sport") == {"Le elezioni comunali"}
    assert titles(stocked, 'comunale -"di sport"') == {"Le elezioni comunali"}
    assert titles(stocked, "sindaco OR Pyongyang") == {"Traffico in città", SEED}
    assert titles(stocked, "sindaco pyongyang") == set()
    assert titles(stocked, "pyong*") == {SEED}


def test_tags_and_filters(stocked: Store) -> None:
    # Only a tag says it (on PostgreSQL through the triggers on article_tags).
    assert titles(stocked, "stracittadina") == {"Derby al consiglio comunale"}
    assert titles(stocked, "comunale", category="politica") == {"Le elezioni comunali"}
    assert titles(stocked, "comunale", source="agenzia") == {
        "Le elezioni comunali",
        "Derby al consiglio comunale",
    }
    assert titles(stocked, "comunale", source="altra") == set()
    assert titles(stocked, "putin", since=WHEN + timedelta(days=1)) == set()


def test_ranked_results_carry_highlighted_snippets(stocked: Store) -> None:
    hits = stocked.search("Pyongyang")
    assert [hit.title for hit in hits] == [SEED]
    assert f"{SNIPPET_OPEN}Pyongyang" in hits[0].snippet
    # The title counts more than the body.
    both = stocked.search("consiglio")
    assert both[0].title == "Derby al consiglio comunale"


def test_the_index_follows_edits_and_deletions(stocked: Store) -> None:
    source = stocked.ensure_source(SourceSpec("Agenzia", "files", "/tmp/agenzia"))
    edited = draft("citta", "Traffico in periferia", "Il sindaco chiude la tangenziale.")
    summary = stocked.upsert_articles(source, [edited])
    assert summary.changed == 1 and len(summary.article_ids) == 1
    assert titles(stocked, "citta") == set()
    assert titles(stocked, "tangenziale") == {"Traffico in periferia"}
    assert stocked.delete_source_articles(source, ["citta"]) == 1
    assert titles(stocked, "tangenziale") == set()
    assert titles(stocked, "sindaco") == set()


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("*ucraina", "cannot start with"),
        ("-ucraina", "no word"),
        ("x" * (MAX_QUERY_CHARS + 1), "too long"),
        (" ".join(f"parola{i}" for i in range(MAX_TERMS + 1)), "too many terms"),
        ("ab*", "at least"),
        ("gov* par* ele* cit*", "prefixes"),
    ],
)
def test_expensive_or_empty_queries_are_refused(query: str, reason: str) -> None:
    with pytest.raises(QueryError, match=reason):
        parse_query(query)


def test_store_search_refuses_them_too(any_store: Store) -> None:
    with pytest.raises(QueryError):
        any_store.search("*rina")


def test_query_syntax_cannot_be_injected() -> None:
    parsed = parse_query("a\"b NEAR(x y) col:val ) ( ' ;-- ^x")
    for compiled in (fts5_query(parsed), tsquery_text(parsed)):
        assert ":" not in compiled.replace(":*", "")
        assert "NEAR" not in compiled and ";" not in compiled and "^" not in compiled


def test_analysis_is_accent_and_elision_insensitive() -> None:
    assert analyze("città") == analyze("citta") == analyze("CITTÀ")
    assert analyze("l'Ucraina") == analyze("Ucraina")
    assert analyze("elezione") == analyze("elezioni")
    assert analyze("dell’Europa") == analyze("Europa")


# -- the command line ---------------------------------------------------------------------


def search_config(tmp_path: Path, shared: Path) -> Path:
    folder = tmp_path / "articoli"
    folder.mkdir()
    (folder / "seed.txt").write_bytes((shared / "samples" / "seed-article.txt").read_bytes())
    (folder / "citta.txt").write_text(
        "Traffico in città\nIl sindaco chiude il centro.\n\nDomenica senza auto.\n",
        encoding="utf-8",
    )
    return write_config(
        tmp_path,
        """
[site]
title = "Prova"
[[sources]]
name = "Articoli"
kind = "files"
path = "articoli"
""",
    )


def test_cli_search_prints_json_and_tables(tmp_path: Path, shared: Path) -> None:
    config = search_config(tmp_path, shared)
    assert run_cli("--config", str(config), "ingest", "--all").returncode == 0
    result = run_cli("--config", str(config), "search", "Corea del Nord", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [hit["title"] for hit in hits] == [SEED]
    assert "**Corea**" in hits[0]["snippet"]
    table = run_cli("--config", str(config), "search", "citta", "--since", "3650d")
    assert table.returncode == 0, table.stderr
    assert "Traffico in città" in table.stdout
    none = run_cli("--config", str(config), "search", "putin -ucraina", "--json")
    assert none.returncode == 0 and json.loads(none.stdout) == []


def test_cli_search_errors_are_one_sentence(tmp_path: Path, shared: Path) -> None:
    config = search_config(tmp_path, shared)
    bad = run_cli("--config", str(config), "search", "*rina")
    assert bad.returncode == 1
    assert "cannot start with *" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    usage = run_cli("--config", str(config), "search", "putin", "--since", "ieri")
    assert usage.returncode == 2 and "--since" in usage.stderr
    helped = run_cli("search", "--help")
    assert helped.returncode == 0 and "Example: rassegna search" in helped.stdout


# -- folding: the fast path and its definition ------------------------------------------


def folded_by_definition(value: str) -> str:
    """`fold` as first written (NFKD of the whole text, then a generator over it): the
    meaning the table-driven `fold` must keep, or stored index text would stop matching."""
    decomposed = unicodedata.normalize("NFKD", value.translate(APOSTROPHES).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=80))
def test_fold_equals_its_definition_on_any_text(value: str) -> None:
    assert fold(value) == folded_by_definition(value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aàÀeèéÈÉiìoòóuùÙçñßﬁǅŉ᾿`´’‘ʼ'῭ Σσς㎁\u0301\u0327\u0308Aİı", max_size=40))
def test_fold_equals_its_definition_on_accented_runs(value: str) -> None:
    assert fold(value) == folded_by_definition(value)


def test_fold_equals_its_definition_on_every_code_point() -> None:
    # Every character once, in runs and between ASCII (the two paths of `fold`): a
    # character the table folds differently fails here whatever its script.
    for start in range(0, sys.maxunicode + 1, 1024):
        run = "".join(map(chr, range(start, min(start + 1024, sys.maxunicode + 1))))
        assert fold(run) == folded_by_definition(run), hex(start)
        spaced = "A`".join(run[::7])
        assert fold(spaced) == folded_by_definition(spaced), hex(start)
    assert fold("Città dell’Ucraina `Perché` ŉ") == "citta dell'ucraina 'perche' ʼn"


def test_sqlite_ranks_the_newest_matches_and_filters_before_the_bound(store: Store) -> None:
    """`rank_newest`: a very common word is ranked among its newest matches only; the
    filters choose which matches those are, so older articles stay reachable."""
    agenzia = store.ensure_source(SourceSpec("Agenzia", "files", "/tmp/agenzia"))
    archivio = store.ensure_source(SourceSpec("Archivio", "files", "/tmp/archivio"))
    # Stored oldest first: the best match (the word in its title) is the oldest.
    store.upsert_articles(archivio, [draft("a0", "Il sindaco parla", "Parla il sindaco.")])
    store.upsert_articles(
        agenzia,
        [draft(f"n{k}", f"Notizia {k}", f"Oggi anche il sindaco, giorno {k}.") for k in range(4)],
    )
    newest = titles(store, "sindaco", rank_newest=3)
    assert newest == {"Notizia 1", "Notizia 2", "Notizia 3"}  # 3 of 5 matches ranked
    assert titles(store, "sindaco", source="archivio", rank_newest=3) == {"Il sindaco parla"}
    assert store.search("sindaco", rank_newest=5000)[0].title == "Il sindaco parla"


def index_text_by_definition(value: str) -> str:
    """The index text as first written: fold, drop elisions, words, stems, joined."""
    folded = folded_by_definition(value)
    return " ".join(stem(w) for w in WORD.findall(drop_elisions(folded)))


_ITALIAN_ISH = "abcdeilnorstuzàèéìòùÀÈ _-'’`´\u00a0\u2009\n\t.,;:!?«»0123456789ß"


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["l'", "dell'", "un'", "c'", "quest'", "po'", "E'", "sant’", "d'"])
        | st.text(alphabet=_ITALIAN_ISH, max_size=12),
        max_size=12,
    ).map("".join)
)
def test_index_text_equals_its_definition(value: str) -> None:
    assert index_text(value) == index_text_by_definition(value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_index_text_equals_its_definition_on_any_text(value: str) -> None:
    assert index_text(value) == index_text_by_definition(value)


def test_fold_keeps_white_space_white() -> None:
    # `index_text` folds each piece of text between spaces on its own: that equals folding
    # the whole text only while no white space character folds to nothing or to a letter.
    for code in range(sys.maxunicode + 1):
        if chr(code).isspace():
            assert fold(chr(code)).isspace(), hex(code)
    assert index_text("città¨Ucraina l'¨anno") == index_text_by_definition("città¨Ucraina l'¨anno")


def test_index_text_of_an_article(shared: Path) -> None:
    article = (shared / "samples" / "seed-article.txt").read_text(encoding="utf-8")
    assert index_text(article) == index_text_by_definition(article)
    assert index_text("L’Ucraina e l'Europa, dell'università: città") == (
        "ucrain e europ univers citt"
    )


def snippet_by_definition(value: str, parsed: ParsedQuery, width: int = 32) -> str:
    """`snippet` as first written (every token analysed, the whole text walked)."""
    stems = {s for term in parsed.positive if not term.prefix for s in term.stems}
    prefixes = tuple(s for term in parsed.positive if term.prefix for s in term.stems)
    tokens = list(WORD.finditer(value))
    if not tokens:
        return ""

    def hit(match: re.Match[str]) -> bool:
        folded = words(match.group(0))
        return any(stem(w) in stems or stem(w).startswith(prefixes or ("\x00",)) for w in folded)

    first = next((i for i, m in enumerate(tokens) if hit(m)), 0)
    start = max(0, first - width // 4)
    end = min(len(tokens), start + width)
    out: list[str] = ["…"] if start > 0 else []
    cursor = tokens[start].start()
    for match in tokens[start:end]:
        out.append(value[cursor : match.start()])
        out.append(f"**{match.group(0)}**" if hit(match) else match.group(0))
        cursor = match.end()
    out.append("…" if end < len(tokens) else value[cursor:].rstrip())
    return " ".join("".join(out).split())


_SNIPPET_WORDS = ["Città", "citta", "sindaci", "Sindaco", "l'Ucraina", "pyongyang", "e", "di"]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(_SNIPPET_WORDS) | st.text(alphabet=_ITALIAN_ISH, max_size=8),
        max_size=80,
    ).map(" ".join),
    st.sampled_from(["sindaco", "citta OR ucraina", "sind*", '"e di"', "pyongyang -x"]),
    st.integers(min_value=1, max_value=40),
)
def test_snippet_equals_its_definition(value: str, query: str, width: int) -> None:
    parsed = parse_query(query)
    assert snippet(value, parsed, width=width) == snippet_by_definition(value, parsed, width)


def test_snippet_of_an_article(shared: Path) -> None:
    article = (shared / "samples" / "seed-article.txt").read_text(encoding="utf-8")
    for query in ("Pyongyang", "corea", "putin OR kim", "nessuna", "difes*"):
        parsed = parse_query(query)
        assert snippet(article, parsed) == snippet_by_definition(article, parsed)
    assert "**Pyongyang**" in snippet(article, parse_query("pyongyang"))
