"""Search queries: parsing a reader's query (with its limits) and turning it into the
FTS5 MATCH expression (SQLite) or the `to_tsquery` text (PostgreSQL).

Words are ANDed; `OR` between two terms makes them alternatives; `"..."` is a phrase;
`-word` or `-"phrase"` excludes; `word*` is a prefix (at least `MIN_PREFIX_CHARS`
letters, never a leading wildcard). Length and term counts are capped (`QueryError`
otherwise), so one request can never make the database scan its index many times over.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from db.analysis import stem, words

MAX_QUERY_CHARS = 200
"""The longest query accepted, in characters (forms and the CLI say so too)."""
MAX_TERMS = 12
MAX_PHRASE_WORDS = 8
MAX_PREFIX_TERMS = 3
MIN_PREFIX_CHARS = 3


class QueryError(ValueError):
    """A search query we refuse: empty, too long, too many terms, a leading wildcard."""


@dataclass(frozen=True, slots=True)
class Term:
    """One word, phrase or prefix of a query, as folded words (not stemmed)."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def stems(self) -> tuple[str, ...]:
        return tuple(stem(w) for w in self.words)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """An AND of OR-groups of terms, minus the excluded terms."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()

    def with_excluded(self, terms: Iterable[Term]) -> ParsedQuery:
        return ParsedQuery(self.groups, self.excluded + tuple(terms))

    @property
    def positive(self) -> list[Term]:
        return [term for group in self.groups for term in group]


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse_query(query: str) -> ParsedQuery:
    """Parse a reader's query (see the module docstring); raises QueryError."""
    query = query.strip()
    if not query:
        raise QueryError("the search is empty: give at least one word")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the search is too long: at most {MAX_QUERY_CHARS} characters")
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    count = 0
    prefixes = 0
    for match in _TOKEN.finditer(query):
        negate, phrase, bare = match.group(1), match.group(2), match.group(3)
        if bare == "OR":
            join_next = bool(groups)
            continue
        prefix = False
        if bare is not None:
            negate = "-" if bare.startswith("-") and len(bare) > 1 else ""
            bare = bare[1:] if negate else bare
            if bare.startswith("*"):
                raise QueryError(f"«{bare}»: a search word cannot start with *")
            if bare.endswith("*"):
                bare, prefix = bare.rstrip("*"), True
            found = words(bare)
        else:
            found = words(phrase or "")
        if not found:
            continue
        if prefix and (len(found) != 1 or len(found[0]) < MIN_PREFIX_CHARS):
            raise QueryError(f"«{bare}*»: a prefix needs at least {MIN_PREFIX_CHARS} letters")
        prefixes += prefix
        if len(found) > MAX_PHRASE_WORDS:
            raise QueryError(f"a phrase has at most {MAX_PHRASE_WORDS} words")
        count += 1
        if count > MAX_TERMS:
            raise QueryError(f"the search has too many terms: at most {MAX_TERMS}")
        if prefixes > MAX_PREFIX_TERMS:
            raise QueryError(f"the search has too many prefixes (*): at most {MAX_PREFIX_TERMS}")
        term = Term(tuple(found), prefix)
        if negate:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    if not groups:
        raise QueryError("the search has no word to look for (only exclusions or punctuation)")
    return ParsedQuery(tuple(tuple(g) for g in groups), tuple(excluded))


def _fts_term(term: Term) -> str:
    # Stems are runs of letters and digits: quoting them cannot break the FTS5 syntax.
    quoted = '"' + " ".join(term.stems) + '"'
    return quoted + "*" if term.prefix else quoted


def fts5_query(parsed: ParsedQuery) -> str:
    """The FTS5 MATCH expression of a parsed query."""
    groups = ["(" + " OR ".join(_fts_term(t) for t in group) + ")" for group in parsed.groups]
    expression = " AND ".join(groups)
    if parsed.excluded:
        expression = f"({expression}) NOT (" + " OR ".join(map(_fts_term, parsed.excluded)) + ")"
    return expression


def _pg_term(term: Term) -> str:
    # Folded words are runs of letters and digits: no tsquery operator can get through.
    parts = [w + ":*" if term.prefix else w for w in term.words]
    return "(" + " <-> ".join(parts) + ")" if len(parts) > 1 else parts[0]


def tsquery_text(parsed: ParsedQuery) -> str:
    """The `to_tsquery` text of a parsed query (PostgreSQL stems and unaccents it)."""
    groups = ["(" + " | ".join(_pg_term(t) for t in group) + ")" for group in parsed.groups]
    expression = " & ".join(groups)
    for term in parsed.excluded:
        expression += " & !" + _pg_term(term)
    return expression
