"""Metadata rules: authors, tags, categories, slugs and reading time."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Container, Iterable, Mapping
from functools import lru_cache, partial
from typing import Final

from slugify import slugify

from ingest.normalize._text import normalize_title
from ingest.normalize._util import wordset

# Particles kept lower case inside a re-cased name (``MARIO DE ROSSI`` -> ``Mario de Rossi``).
PARTICLES: Final = wordset(
    "de di da del della delle dei degli dello dal dalla dai van von der den du des"

)  # fmt: skip
_AUTHOR_PREFIX_RE: Final = re.compile(
    r"^(?:a cura di|testo di|articolo di|scritto da|di|by|da|autore|autori|author)\s*:?\s+",
    re.IGNORECASE,
)
# ``redazione@example.it (Anna Verdi)`` -> ``Anna Verdi``; ``Anna Verdi <anna@x.it>`` too.
# (The inputs are one-line normalized first: single spaces only, so no ``\s*`` runs.)
_EMAIL_NAME_RE: Final = re.compile(r"(?<![^\s(<])[^\s()<>@]++@[^\s()<>]++ ?\(([^()]*+)\)")
_NAME_EMAIL_RE: Final = re.compile(r" ?<[^<>@\s]++@[^<>\s]++>")
_AUTHOR_SPLIT_RE: Final = re.compile(r" ?[,;&] ?| (?:e|ed|and) ", re.IGNORECASE)
_TAG_SPLIT_RE: Final = re.compile(r"[,;|]")
_THOUSANDS_RE: Final = re.compile(r"(?<=\d)[.,](?=\d{3}(?!\d))")
# python-slugify glues ``2,5`` into ``25``; a decimal separator becomes a hyphen instead.
_DECIMAL_RE: Final = re.compile(r"(?<=\d)[.,](?=\d)")
_WORD_RE: Final = re.compile(r"[^\W_]++(?:'[^\W_]++)*+")
MAX_TAGS: Final = 10
# Real tag lists have a few dozen entries at most; past this many pieces the field is
# junk, and slugging each piece (for de-duplication) would only burn time.
_MAX_TAG_PIECES: Final = 200
MAX_SLUG: Final = 80
# A slug keeps at most 80 characters; transliteration never expands a character by more
# than a few, so slugify (slow, several regex passes) only needs the head of a long title.
_SLUG_INPUT_MAX: Final = 4 * MAX_SLUG
# python-slugify 9's default backend ("auto") tries `import unidecode` on every non-ASCII
# call; that package is not installed, and a failed import is not cached, so each slug
# searched sys.path (two thirds of make_slug's time). Naming text-unidecode, the backend
# "auto" falls back to, gives the same slugs. Older versions have no `backend` argument.
_slugify: Final[Callable[[str], str]] = (
    partial(slugify, backend="text-unidecode")
    if "backend" in inspect.signature(slugify).parameters
    else slugify
)
# An all-caps word this long or longer is shouting, not an acronym (``ESTERI``; ``NATO``,
# ``UE``, ``ONU`` stay).
_ACRONYM_MAX: Final = 4
# Silent reading of Italian news prose by adults: 230 words a minute, a conservative figure
# (Italian words are longer than English ones, and readers of feeds skim less than they
# think); the project fixes it so that every feed shows the same estimate.
WORDS_PER_MINUTE: Final = 230


def _title_case_word(word: str, first: bool) -> str:
    lower = word.lower()
    if not first and lower in PARTICLES:
        return lower
    # str.capitalize would lower ``'Amico`` in ``D'AMICO``: capitalize each elided part.
    return "'".join(part[:1].upper() + part[1:] for part in lower.split("'"))


def _recase_name(name: str) -> str:
    """All-caps names to title case, particles lower case; other names as written."""
    letters = [ch for ch in name if ch.isalpha()]
    if not letters or not all(ch.isupper() for ch in letters):
        return name
    words = name.split(" ")
    return " ".join(_title_case_word(word, index == 0) for index, word in enumerate(words))


def normalize_authors(text: str) -> list[str]:
    """Split a byline into clean, de-duplicated author names.

    Strips ``di``, ``a cura di``, ``by``; unwraps ``email (Name)``; splits on ``,``
    ``;`` ``&`` and `` e ``; re-cases all-caps names. Never raises.
    """
    try:
        line = normalize_title(text)
        if "@" in line:
            line = _EMAIL_NAME_RE.sub(r"\1", line)
            line = _NAME_EMAIL_RE.sub("", line)
        names: list[str] = []
        seen: set[str] = set()
        for part in _AUTHOR_SPLIT_RE.split(line):
            name = part.strip(" .,:;-–")
            previous = None
            while previous != name:  # ``Di Maio`` stays: only a lower-case or leading-word
                previous = name  # prefix followed by a full name is dropped
                match = _AUTHOR_PREFIX_RE.match(name)
                if match and (match.group(0)[0].islower() or len(name[match.end() :].split()) > 1):
                    name = name[match.end() :].strip()
            name = _recase_name(name)
            key = name.casefold()
            if name and any(ch.isalpha() for ch in name) and key not in seen:
                seen.add(key)
                names.append(name)
        return names
    except Exception:  # metadata never stops an article
        return []


def _recase_tag(tag: str) -> str:
    words = tag.split(" ")
    shouting = [w for w in words if w.isupper() and len(w) > _ACRONYM_MAX]
    if not shouting:
        return tag
    if all(w.isupper() or not any(ch.isalpha() for ch in w) for w in words):
        return " ".join(
            w
            if len(w) <= _ACRONYM_MAX and i > 0 and w.lower() not in PARTICLES
            else _title_case_word(w, i == 0)
            for i, w in enumerate(words)
        )
    return " ".join(
        _title_case_word(w, True) if w.isupper() and len(w) > _ACRONYM_MAX else w for w in words
    )


def normalize_tags(values: Iterable[str] | str) -> list[str]:
    """Clean tags: split on ``, ; |``, strip ``#``, re-case shouting, dedupe by slug, max 10."""
    try:
        items = [values] if isinstance(values, str) else list(values)
        tags: list[str] = []
        seen: set[str] = set()
        examined = 0
        for item in items:
            if not isinstance(item, str):
                continue
            for piece in _TAG_SPLIT_RE.split(item):
                examined += 1
                if examined > _MAX_TAG_PIECES:
                    return tags
                tag, key = _tag_and_key(piece)
                if not key or key in seen:
                    continue
                seen.add(key)
                tags.append(tag)
                if len(tags) == MAX_TAGS:
                    return tags
        return tags
    except Exception:
        return []


_CACHED_TAG_CHARS: Final = 200  # longer pieces are junk, not worth keeping in memory


def _tag_and_key(piece: str) -> tuple[str, str]:
    """A tag piece cleaned and re-cased, and its slug (the de-duplication key).

    Cached: a site has a few hundred distinct tags, each seen on many articles, and
    cleaning + slugging one costs a normalization pass and a python-slugify call.
    """
    if len(piece) > _CACHED_TAG_CHARS:
        return _clean_tag(piece)
    return _cached_tag(piece)


def _clean_tag(piece: str) -> tuple[str, str]:
    tag = normalize_title(piece.replace("#", " ")).strip(" .-–")
    if not tag:
        return "", ""
    tag = _recase_tag(tag)
    return tag, make_slug(tag)


_cached_tag: Final = lru_cache(maxsize=4096)(_clean_tag)


def canonical_category(name: str, synonyms: Mapping[str, str]) -> str:
    """Map a source's section name to the site's canonical one (``Mondo`` -> ``Esteri``).

    Keys and canonical values are compared by slug, so case, accents and punctuation do
    not matter; an unmapped name comes back normalized (and re-cased if all caps).
    """
    cleaned = _recase_tag(normalize_title(name))
    key = make_slug(cleaned)
    for synonym, canonical in synonyms.items():
        if make_slug(synonym) == key:
            return canonical
    for canonical in synonyms.values():
        if make_slug(canonical) == key:
            return canonical
    return cleaned


def _cut(slug: str, limit: int) -> str:
    """Cut at the last hyphen within ``limit`` (python-slugify's word_boundary appends
    later short words after cutting, so the cut is done here)."""
    if len(slug) <= limit:
        return slug
    if slug[limit] == "-":
        return slug[:limit]
    head = slug[:limit]
    cut = head.rfind("-")
    return head[:cut] if cut > 0 else head


def make_slug(title: str) -> str:
    """URL slug of a title: ASCII, apostrophes as hyphens, ``1.000`` -> ``1000``, <= 80 chars."""
    try:
        text = normalize_title(title[: 4 * _SLUG_INPUT_MAX])[:_SLUG_INPUT_MAX]
        text = _DECIMAL_RE.sub("-", _THOUSANDS_RE.sub("", text)).replace("'", " ")
        return _cut(_slugify(text), MAX_SLUG).strip("-")
    except Exception:
        return ""


def unique_slug(slug: str, taken: Container[str]) -> str:
    """``slug`` or, if taken in its section, ``slug-2``, ``slug-3``... (still <= 80 chars)."""
    if slug not in taken:
        return slug
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = _cut(slug, MAX_SLUG - len(suffix)).strip("-") + suffix
        if candidate not in taken:
            return candidate
        number += 1


def reading_time(text: str) -> int:
    """Minutes to read ``text`` silently, at least 1."""
    words = len(_WORD_RE.findall(text))
    return max(1, int(words / WORDS_PER_MINUTE + 0.5))
