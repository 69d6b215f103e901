"""Language detection by stopword frequency, for the few languages an Italian site meets.

A model-based detector (langdetect, fastText...) would be a dependency with data files for
a question that function words answer reliably on a news body: each language's most
frequent words make up a third or more of its running text and barely overlap.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Final

from ingest.normalize._util import wordset

STOPWORDS: Final = {
    "it": wordset(
        "il lo la i gli le un una uno di del della dei degli delle dello al alla ai agli alle "
        "da dal dalla dai nel nella nei negli nelle sul sulla sui con per tra fra che non è "
        "sono ha hanno anche come più ma questo questa quello quella essere stato stata "
        "dopo ci si ne perché però già cui loro suo sua suoi sue anni ed o se mentre "
        "nell dell all dall sull l un c d"
    ),
    "en": wordset(
        "the of and to in is that for it on with as was at by be this are from or an have "
        "has not but which they their were been its he she we you will would there what "
        "about after than more said who had last new"
    ),
    "fr": wordset(
        "le la les de des du un une et est en à que qui dans pour pas sur au aux avec ce cette "
        "il elle ils sont ont été par plus ne se son sa ses leur mais comme nous vous "
        "être fait l d qu n s c j"
    ),
    "de": wordset(
        "der die das und ist nicht ein eine einen dem den des zu mit von auf für im sich "
        "es auch als an wird werden hat haben sind war aus bei nach wie noch nur oder "
        "aber vor zur zum über einer durch"
    ),
    "es": wordset(
        "el la los las de del y en que es un una por con para al se no lo su sus como más "
        "pero fue ha han sido este esta entre sobre también muy ya hay son desde "
        "cuando"
    ),
    "pt": wordset(
        "o a os as de do da dos das e em que é um uma por com para no na nos nas se não "
        "ao aos mais como mas foi ser seu sua são também pelo pela já entre sobre "
        "quando muito"
    ),
}
WORD_RE: Final = re.compile(r"[^\W\d_]+")
ALL_STOPWORDS: Final = frozenset().union(*STOPWORDS.values())
# word -> the languages whose stopword it is, in the order of `STOPWORDS`.
_LANGUAGES_OF: Final = {
    word: tuple(language for language, words in STOPWORDS.items() if word in words)
    for word in ALL_STOPWORDS
}


def _as_ranges(codes: Sequence[int]) -> str:
    """A character class body of these code points (ascending), runs as ranges."""
    runs: list[list[int]] = []
    for code in codes:
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(
        re.escape(chr(low)) + ("" if low == high else "-" + re.escape(chr(high)))
        for low, high in runs
    )


# The letters of Latin text and its punctuation: almost every body holds nothing else.
COMMON_CHARS: Final = (*range(0x250), *range(0x2000, 0x2070), 0x20AC)
# The characters of `COMMON_CHARS` that `WORD_RE` takes as letters, spelled out as ranges
# (read from `WORD_RE` itself): on a text of `COMMON_CHARS` characters only it finds the same
# words, and re tests ranges several times faster than the Unicode categories of \w and
# \d. Texts with any other character go to `WORD_RE`.
COMMON_WORD_RE: Final = re.compile(
    f"[{_as_ranges([c for c in COMMON_CHARS if WORD_RE.fullmatch(chr(c))])}]+"
)
UNCOMMON_RE: Final = re.compile(f"[^{_as_ranges(COMMON_CHARS)}]")


def words(text: str) -> list[str]:
    """`WORD_RE.findall(text)`: the runs of letters of `text`."""
    return (WORD_RE if UNCOMMON_RE.search(text) else COMMON_WORD_RE).findall(text)


MIN_HITS: Final = 3  # fewer stopwords than this is too little evidence to say anything
SAMPLE_CHARS: Final = 3000  # the first 3 KB decide; more text only costs time


def _normalize_code(declared: str) -> str | None:
    code = declared.strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) in (2, 3) and code.isalpha() else None


def declared_language(declared: str | None) -> str | None:
    """The primary subtag of a declared language (``it-IT`` -> ``it``), None if unusable."""
    return _normalize_code(declared) if declared else None


def detect_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of ``text`` (it, en, fr, de, es, pt), or None when unsure.

    A declared language (``it-IT``, ``en_GB``) wins and is returned as its primary
    subtag (:func:`declared_language`). Detect from the body: titles alone are too short
    to be reliable.
    """
    code = declared_language(declared)
    if code is not None:
        return code
    counts = Counter(words(text[:SAMPLE_CHARS].lower()))
    if not counts:
        return None
    # One walk over the stopwords present, each counted for every language that has it,
    # instead of an intersection and a sum per language.
    scores = dict.fromkeys(STOPWORDS, 0)
    for word in ALL_STOPWORDS.intersection(counts):
        count = counts[word]
        for language in _LANGUAGES_OF[word]:
            scores[language] += count
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < MIN_HITS or top == second:
        return None
    return best
