"""Italian text analysis for the search index and queries: folding, elisions, stems.

SQLite's FTS5 has no Italian stemmer, so the index holds text analysed here: accents
stripped, case folded, elided articles dropped (`l'Ucraina` → `ucraina`), every word
reduced by the Snowball Italian stemmer (`elezioni`, `elezione` → `elezion`). Queries go
through the same `analyze`, so index and query always agree. Accents are stripped
*before* stemming: the stemmer treats `città` and `citta` differently, and a reader who
types `citta` must find `città`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

WORD = re.compile(r"[^\W_]+")
"""A word: a run of letters and digits."""
APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
# Words that elide before a vowel (l'anno, dell'Ucraina, quest'anno, c'è, un'altra):
# dropped when written with an apostrophe, so `l'Ucraina` is the word `Ucraina`.
_ELIDED = frozenset(
    (
        *("l", "un", "dell", "all", "dall", "nell", "sull", "coll", "pell", "tra"),
        *("quell", "quest", "bell", "sant", "buon", "nessun", "gl", "degl", "agl"),
        *("dagl", "negl", "sugl", "anch", "senz", "com", "dov", "cos", "ch", "qual"),
        *("d", "c", "m", "t", "s", "v", "n"),
    )
)
_ELISION = re.compile(r"\b([^\W\d_]{1,6})'(?=[^\W\d_])")
_STEMMER = snowballstemmer.stemmer("italian")


FOLD_CACHE_CHARS = 8192
"""Distinct characters whose folded form `fold` remembers (Latin, Greek, Cyrillic and
punctuation fit many times over; rarer scripts are folded anew each time, never stored)."""


def fold_char(char: str) -> str:
    """The definition of folding, one character: apostrophes made plain, case folded,
    compatibility-decomposed (NFKD), combining marks dropped."""
    decomposed = unicodedata.normalize("NFKD", char.translate(APOSTROPHES).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _FoldTable(dict[int, str]):
    """A `str.translate` table filled on first use of each character, up to
    FOLD_CACHE_CHARS entries (a hostile text of rare characters cannot grow it further).

    Folding character by character equals folding the whole text: case folding and NFKD
    decomposition are per character, and the only thing NFKD does across characters
    (reordering adjacent combining marks) concerns marks that are then dropped."""

    def __missing__(self, key: int) -> str:
        folded = fold_char(chr(key))
        if len(self) < FOLD_CACHE_CHARS:
            self[key] = folded
        return folded


_FOLD_TABLE = _FoldTable()


_NON_ASCII = re.compile(r"([^\x00-\x7f]+)")


def fold(value: str) -> str:
    """Lower case without diacritics (`Città` → `citta`), apostrophes made plain: the same
    as `fold_char` on every character (`tests/test_search.py` checks both).

    The index is written at ingest for every article, and normalizing whole texts was a
    large share of ingesting one. Italian text is nearly all ASCII, so the ASCII stretches are
    lowered by `str.lower` (ASCII case folding is lowering) and only the runs of other
    characters go through the table, each character's folding computed once."""
    if value.isascii():
        return value.lower().replace("`", "'")
    pieces = _NON_ASCII.split(value)  # ASCII at even indexes, other runs at odd ones
    pieces[0::2] = [piece.lower().replace("`", "'") for piece in pieces[0::2]]
    pieces[1::2] = [piece.translate(_FOLD_TABLE) for piece in pieces[1::2]]
    return "".join(pieces)


def drop_elisions(folded: str) -> str:
    """A folded text with its elided articles (`l'`, `dell'`, `un'`...) taken off."""
    return _ELISION.sub(lambda m: " " if m.group(1) in _ELIDED else m.group(0), folded)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball Italian stem of a folded word (cached: news reuse a small vocabulary,
    and the pure-Python stemmer is most of the indexing cost)."""
    return str(_STEMMER.stemWord(word))


def words(value: str) -> list[str]:
    """The folded words of a text, elided articles dropped, not stemmed."""
    return WORD.findall(drop_elisions(fold(value)))


def analyze(value: str) -> list[str]:
    """The stems a text is indexed (and a query is matched) as."""
    return [stem(w) for w in words(value)]


CHUNK_CACHE = 32_768
"""Distinct whitespace-separated pieces of text (as written, and folded) whose index text
is remembered."""


@lru_cache(maxsize=CHUNK_CACHE)
def _chunk_index(chunk: str) -> str:
    return " ".join(stem(w) for w in WORD.findall(drop_elisions(chunk)))


@lru_cache(maxsize=CHUNK_CACHE)
def _written_chunk_index(chunk: str) -> str:
    # A folded character can hold white space (`¨` folds to a space), so the folded piece
    # is split again.
    return " ".join(filter(None, map(_chunk_index, fold(chunk).split())))


def index_text(value: str) -> str:
    """`" ".join(analyze(value))`, what the SQLite index stores, computed per piece of
    text between spaces, each piece once (cached): news repeat the same few thousand
    words, and folding every article's text and running the elision and word regexes
    over it cost more than looking its pieces up. Equal to the definition because
    folding is per character and folds every white space character to white space (the
    pieces of the folded text are those of the pieces of the text), and neither regex
    crosses white space (an elision is letters, an apostrophe and a letter; a piece's
    start and end are word boundaries either way)."""
    return " ".join(filter(None, map(_written_chunk_index, value.split())))
