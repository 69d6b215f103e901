"""Automatic tags: proper-noun phrases of an Italian article, without any model.

A phrase is a run of capitalized words, Italian particles allowed inside (``Corea del
Nord``). A capitalized word that only ever opens sentences is a common word written with
a capital (``Questo``, ``Mentre``), not a name, so it is dropped from the phrase start.
A person is one tag: once an article names ``Vladimir Putin`` or ``Kim Jong Un`` in full,
its ``Putin`` and ``Kim`` are the same tag, the full name.
One regex finds the phrases; Python only looks at the few matches, so the cost grows with
the names found, not with the length of the text.
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
# Particles of foreign personal names; an Italian preposition inside a phrase makes it a
# place or a body (``Corea del Nord``, ``Presidente della Repubblica``), not a person.
_NAME_PARTICLES: Final = frozenset({"van", "von", "der", "bin", "al", "el"})
# Words that make a phrase a place, a party, an institution or a title rather than a
# person's name: such a phrase does not take over the mentions of its first or last word
# alone (``Forza Italia`` and ``Italia``, ``Sud Africa`` and ``Africa``, ``Presidente
# Mattarella`` and ``Mattarella``).
_NOT_PERSON: Final = wordset(
    "presidente ministro premier sindaco governatore segretario generale papa re regina "
    "principe principessa san santa santo paese paesi stato stati governo "
    "nord sud est ovest centrale medio vicino estremo alto alta basso bassa grande gran "
    "nuovo nuova nuovi nuove unito unita uniti unite latina latino viva forza più fratelli "
    "casa palazzo piazza via viale corso ponte porta monte lago mare isola isole golfo valle "
    "regno repubblica unione impero partito movimento lega banca corte camera senato "
    "consiglio ministero comune regione provincia città università ospedale stazione "
    "aeroporto porto chiesa teatro museo stadio festival premio coppa serie società gruppo "
    "fondazione agenzia istituto"
)


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
    counts = _one_tag_per_person(counts)
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


def _is_person_name(words: list[str]) -> bool:
    """Whether a phrase of several words can be a person's full name."""
    return 1 < len(words) <= 5 and all(
        word in _NAME_PARTICLES
        or (
            word[0].isupper()
            and not word.isupper()  # an acronym: ``AS Roma``, ``FC Barcelona``
            and word not in _PARTICLE_WORDS
            and word.lower() not in _NOT_PERSON
        )
        for word in words
    )


def _one_tag_per_person(counts: Counter[str]) -> Counter[str]:
    """Counts with each short mention of a person (``Putin``, ``Kim``: the first or the last
    words of a full name found in the same text) added to the full name's.

    A short mention that begins or ends several different full names (``Kim`` with both
    ``Kim Jong Un`` and ``Kim Yo Jong``) stays a tag of its own: which person it means is
    not known.
    """
    full_names = [name.split(" ") for name in counts if " " in name]
    full_names = [words for words in full_names if _is_person_name(words)]
    if not full_names:
        return counts
    owners: dict[str, set[str]] = {}
    for words in full_names:
        whole = " ".join(words)
        for size in range(1, len(words)):
            for part in (words[:size], words[-size:]):
                owners.setdefault(" ".join(part), set()).add(whole)
    merged: Counter[str] = Counter()
    for name, count in counts.items():  # insertion order: first mention first
        # ``Kim Jong`` and ``Kim Jong Un`` are one person: only the longest names count.
        longest = {whole for whole in owners.get(name, ()) if whole not in owners}
        if len(longest) == 1:
            merged[longest.pop()] += count
        else:
            merged[name] += count
    return merged
