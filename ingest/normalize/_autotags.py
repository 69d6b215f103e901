"""Automatic tags: proper-noun phrases of an Italian article, without any model.

A phrase is a run of capitalized words, Italian particles allowed inside (``Corea del
Nord``). A capitalized word that only ever opens sentences is a common word written with
a capital (``Questo``, ``Mentre``), not a name, so it is dropped from the phrase start.
One regex finds the phrases; Python only looks at the few matches (fast: well under 1 ms
for a 2 KB article).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Final

from ingest.normalize._meta import MAX_TAGS, make_slug
from ingest.normalize._util import wordset

_UPPER: Final = "A-ZÀ-ÖØ-Þ"
_NAME: Final = f"[{_UPPER}](?<![^\\W\\d_][{_UPPER}])[^\\W\\d_]*+(?:'[^\\W\\d_]++)*+"
_PARTICLES: Final = "del|della|dei|degli|delle|dello|di|de|da|dal|dalla|van|von|der|bin|al|el"
_PHRASE_RE: Final = re.compile(f"{_NAME}(?: (?:(?:{_PARTICLES}) )?{_NAME})*+")
# What may stand between a sentence stop and the first word of the sentence.
_OPENERS: Final = frozenset(" \"«'(–—-*")
_STOPS: Final = frozenset(".!?…:;\n")
# Function words a capital never makes a name (they open sentences and titles).
_NEVER: Final = wordset(
    "il lo la i gli le un una uno questo questa questi queste quello quella mentre "
    "nonostante durante dopo prima secondo oggi ieri domani ma e o se per con in a da "
    "anche ecco così poi però quando come dove perché già non"
)
# Common nouns written with a capital by convention (``i due Paesi``): a tag only as part
# of a longer name (``Stati Uniti``).
_GENERIC: Final = wordset("paese paesi stato stati governo presidente un")
_PARTICLE_WORDS: Final = frozenset(_PARTICLES.split("|"))


def _starts_sentence(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in _OPENERS:
        # ``dell'Ucraina``: an apostrophe after a letter is an elision, not a quote.
        if text[index] == "'" and index > 0 and text[index - 1].isalpha():
            return False
        index -= 1
    return index < 0 or text[index] in _STOPS


def auto_tags(text: str, limit: int = MAX_TAGS) -> list[str]:
    """Proper-noun phrases of ``text``, most frequent first, de-duplicated by slug."""
    try:
        return _auto_tags(text, limit)
    except Exception:  # tags are a bonus; never lose an article over them
        return []


def _auto_tags(text: str, limit: int) -> list[str]:
    found: list[tuple[list[str], bool]] = [
        (match.group(0).split(" "), _starts_sentence(text, match.start()))
        for match in _PHRASE_RE.finditer(text)
    ]
    # Capitalized words seen somewhere other than a sentence start are names.
    inside: set[str] = set()
    for words, initial in found:
        inside.update(words[1:] if initial else words)
    counts: Counter[str] = Counter()
    for words, initial in found:
        if words[0].lower() in _NEVER or (initial and words[0] not in inside):
            words = words[1:]
            while words and words[0] in _PARTICLE_WORDS:
                words = words[1:]
        if not words or (len(words) == 1 and words[0].lower() in _GENERIC):
            continue
        counts[" ".join(words)] += 1
    result: list[str] = []
    slugs: set[str] = set()
    for name, _count in counts.most_common():  # ties keep first-seen order
        slug = make_slug(name)
        if slug and slug not in slugs:
            slugs.add(slug)
            result.append(name)
            if len(result) == limit:
                break
    return result
