"""Telling the same story apart from a different one, and a real edit from hash churn.

Pure functions (no database), used by `db.identity` and `db.upsert`.

Cross-source duplicates. Two entries from different sources are the same story when
their canonical URLs are equal, or when, published within the duplicate window:

- their titles are *nearly equal*: the same `title_key`, i.e. the same set of significant
  words once case, accents, punctuation, Italian articles and prepositions, word order
  and a trailing publisher suffix ("… - ANSA", "… | Il Post") are set aside; the key is
  stored and indexed, so candidates come from one indexed look-up per document;
- and their leads (the first `LEAD_CHARS` characters of the summary, else of the text)
  are similar: the Jaccard index of their word 3-shingles, both leads cut to the same
  number of words (a short summary against a longer one compares its own length), is at
  least `LEAD_THRESHOLD`. A lead shorter than `MIN_LEAD_WORDS` words cannot be compared:
  then only exactly equal normalized titles match.

The threshold favours missing a duplicate over merging two stories: a merged story hides
an article from readers, a missed one only shows it twice.

Hash churn. `visible_digest` hashes what a reader sees of an article (normalized title,
summary and text, link targets, URL, authors, labels, image), not its HTML bytes, so
whitespace, attribute order or markup shuffles upstream are not edits.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

from db.records import ArticleDraft

LEAD_CHARS = 300
LEAD_THRESHOLD = 0.5
"""Minimum Jaccard index of the leads' word 3-shingles for a title match to be a
duplicate: the same lead with a word or two edited scores well above it, two different
leads under one title near zero."""
MIN_LEAD_WORDS = 8
SHINGLE = 3
TITLE_KEY_CHARS = 200

_NOT_WORD = re.compile(r"[^\w]+")
# "Titolo - Testata", "Titolo | Testata", "Titolo – Testata": a short trailing part after
# a spaced separator is the publisher's name, which differs between sources.
_SUFFIX = re.compile(r"\s+[-|–—]\s+(?P<tail>[^-|–—]{1,60})$")
_SUFFIX_WORDS = 4
# Italian articles, prepositions and particles: a title keeps its meaning without them.
_STOPWORDS = frozenset(
    """il lo la i gli le l un uno una di a da in con su per tra fra e ed o od che del dello
    della dei degli delle dell al allo alla ai agli alle all dal dallo dalla dai dagli dalle
    dall nel nello nella nei negli nelle nell sul sullo sulla sui sugli sulle sull col coi d
    non si ci ne""".split()  # noqa: SIM905 - a word list reads better as words
)
# Spelled out as character classes rather than re.IGNORECASE with a word boundary: this
# runs over every stored article's HTML, and the class form is about three times faster.
_LINK_TARGET = re.compile(
    r"""[\s"'/](?:[hH][rR][eE][fF]|[sS][rR][cC])\s*=\s*(?:"([^"]*)"|'([^']*)')"""
)


def fold(text: str) -> str:
    """Casefolded, accents removed, punctuation and whitespace collapsed to one space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", bare.replace("_", " ")).strip()


def _title_words(title: str) -> list[str]:
    title = title.strip()
    match = _SUFFIX.search(title)
    if match and len(match.group("tail").split()) <= _SUFFIX_WORDS:
        head = title[: match.start()]
        if len(fold(head).split()) >= 3:  # never strip a title down to almost nothing
            title = head
    return fold(title).split()


def normalized_title(title: str) -> str:
    """The title folded (`fold`) and without its publisher suffix."""
    return " ".join(_title_words(title))


def title_key(title: str) -> str:
    """The indexed look-up key of a title: its significant words, sorted, deduplicated."""
    words = _title_words(title)
    significant = sorted({w for w in words if w not in _STOPWORDS})
    return " ".join(significant or words)[:TITLE_KEY_CHARS]


def lead_of(summary: str, text: str) -> str:
    """The lead compared between sources: the start of the summary, else of the text."""
    source = summary if summary.strip() else text
    return source[:LEAD_CHARS]


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    if len(words) < SHINGLE:
        return {tuple(words)}
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def lead_similarity(first: str, second: str) -> float | None:
    """Jaccard index of the two leads' word shingles (both cut to the shorter's length),
    or None when one is too short to tell."""
    a, b = fold(first).split(), fold(second).split()
    # A lead cut at LEAD_CHARS may end in half a word; it is not compared.
    if len(first) >= LEAD_CHARS:
        a = a[:-1]
    if len(second) >= LEAD_CHARS:
        b = b[:-1]
    n = min(len(a), len(b))
    if n < MIN_LEAD_WORDS:
        return None
    sa, sb = _shingles(a[:n]), _shingles(b[:n])
    return len(sa & sb) / len(sa | sb)


def same_story(title: str, lead: str, other_title: str, other_lead: str) -> bool:
    """Whether two entries with the same `title_key` tell the same story (see above)."""
    similarity = lead_similarity(lead, other_lead)
    if similarity is None:
        return normalized_title(title) == normalized_title(other_title)
    return similarity >= LEAD_THRESHOLD


def _collapsed(text: str) -> str:
    # str.split() splits on the same Unicode white space as `\s`, several times faster.
    return " ".join(text.split())


def visible_digest(draft: ArticleDraft) -> str:
    """Hash of what a reader sees of a draft: unchanged by whitespace, attribute order or
    other markup-only churn of an upstream entry."""
    # Most bodies are bare paragraphs: no `=`, no attribute, nothing for the (slower)
    # link scan to find.
    targets = (
        [
            m.group(1) if m.group(1) is not None else m.group(2)
            for m in _LINK_TARGET.finditer(draft.content_html)
        ]
        if "=" in draft.content_html
        else []
    )
    payload = json.dumps(
        [
            _collapsed(draft.title),
            _collapsed(draft.summary),
            _collapsed(draft.content_text),
            targets,
            draft.url,
            list(draft.authors),
            draft.category,
            list(draft.tags),
            draft.language,
            draft.image_url,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
