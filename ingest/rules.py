"""Keep and block rules (`[[rules]]`): which entries of a source are stored at all.

A rule holds conditions that must all hold: regular expressions on the title, URL, text,
authors, tags and category (matched case- and accent-insensitively: `citta` matches
`città`, `CITTÀ` and `Città`), a language, and an age. The order is Miniflux's: block
rules for every source, then the source's own block rules (the first that matches blocks
the entry); then, when any keep rule applies to the source (its own or one for every
source), the entry must match one of them, else it is blocked too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from db.records import ArticleDraft, StoredArticle

PATTERN_FIELDS = ("title", "url", "text", "author", "tag", "category")
_FIELD_COST = {"category": 0, "tag": 1, "author": 2, "url": 3, "title": 4, "text": 5}
Action = Literal["block", "keep"]


class RuleError(ValueError):
    """A rule that cannot be used; the message names the field and the problem."""


# The combining accents Latin scripts use; removed after NFD by one C-speed substitution
# (a Python loop over every character would cost more than the regexes themselves).
_COMBINING_RE = re.compile("[\u0300-\u036f]+")


def fold(text: str) -> str:
    """`text` without accents (`città` → `citta`); case is left to the regex flags."""
    if text.isascii():
        return text
    return _COMBINING_RE.sub("", unicodedata.normalize("NFD", text))


# Plain words: letters, digits, spaces, apostrophes, hyphens and slashes (`/sponsored/` in
# a URL rule), none of them special to the regex engine.
_LITERAL_RE = re.compile(r"[\w '\-/]+", re.ASCII)


def _ascii_view(text: str) -> str:
    """`text` case-folded, with everything but ASCII dropped after NFD: an ASCII word
    that a folded, case-insensitive search finds in `text` is a substring of this."""
    if text.isascii():
        return text.lower()
    # casefold, not lower: the regex's case folding also matches `ſ` to `s`, `K` to `k`.
    folded = unicodedata.normalize("NFD", text.casefold())
    return folded.encode("ascii", "ignore").decode("ascii")


def required_words(pattern: str) -> tuple[str, ...] | None:
    """For a pattern that is plain words, `|`-separated, each perhaps between `\\b` or
    `^`/`$` (most rules: `oroscopo|segni zodiacali`), the words one of which any match
    contains (folded, lower case); None for any other pattern.

    A text whose `_ascii_view` holds none of them cannot match, which a substring search
    answers many times faster than the regex (whose leading `\\b` and case folding
    defeat the regex engine's own literal search)."""
    words: list[str] = []
    for alternative in fold(pattern).lower().split("|"):
        core = alternative
        while core.startswith(("\\b", "^")):
            core = core[2:] if core.startswith("\\b") else core[1:]
        while core.endswith(("\\b", "$")) and not core.endswith("\\$"):
            core = core[:-2] if core.endswith("\\b") else core[:-1]
        if not core or not _LITERAL_RE.fullmatch(core):
            return None
        words.append(core)
    return tuple(words)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A rule's regular expression, matching case- and accent-insensitively; RuleError
    with Python's own explanation (`unbalanced parenthesis at position 7`) when it is not
    one. Errors are reported on the pattern as written, positions included."""
    try:
        re.compile(pattern)
        return re.compile(fold(pattern), re.IGNORECASE)
    except re.error as exc:
        raise RuleError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Subject:
    """What rules look at in an entry (a draft about to be stored, or a stored article)."""

    title: str
    url: str
    text: str
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    category: str
    language: str
    published: datetime

    @classmethod
    def of_draft(cls, draft: ArticleDraft) -> Subject:
        return cls._of(draft, draft.tags, draft.category)

    @classmethod
    def of_stored(cls, article: StoredArticle) -> Subject:
        category = article.category.name if article.category else None
        return cls._of(article, (t.name for t in article.tags), category)

    @classmethod
    def _of(
        cls, entry: ArticleDraft | StoredArticle, tags: Iterable[str], category: str | None
    ) -> Subject:
        """What rules see of a draft or a stored article, which differ only in how they
        hold their tags and category."""
        return cls(
            title=entry.title,
            url=entry.url or "",
            text=f"{entry.summary}\n{entry.content_text}",
            authors=tuple(entry.authors),
            tags=tuple(tags),
            category=category or "",
            language=entry.language or "",
            published=entry.published,
        )


class _Folded:
    """A subject's fields without accents (and their ASCII views), each computed once
    however many rules ask, and only when one does."""

    __slots__ = ("_folded", "_subject", "_views")

    def __init__(self, subject: Subject) -> None:
        self._subject = subject
        self._folded: dict[str, tuple[str, ...]] = {}
        self._views: dict[str, tuple[str, ...]] = {}

    def _raw(self, name: str) -> tuple[str, ...]:
        s = self._subject
        if name == "author":
            return s.authors
        if name == "tag":
            return s.tags
        return (getattr(s, name),)

    def values(self, name: str) -> tuple[str, ...]:
        found = self._folded.get(name)
        if found is None:
            found = self._folded[name] = tuple(fold(v) for v in self._raw(name))
        return found

    def views(self, name: str) -> tuple[str, ...]:
        found = self._views.get(name)
        if found is None:
            found = self._views[name] = tuple(_ascii_view(v) for v in self._raw(name))
        return found


@dataclass(frozen=True, slots=True)
class Rule:
    """One `[[rules]]` table, compiled. `label` names it in messages (`rules[3]`)."""

    label: str
    action: Action
    sources: frozenset[str] | None = None  # None: every source
    patterns: tuple[tuple[str, re.Pattern[str], tuple[str, ...] | None], ...] = ()
    languages: tuple[str, ...] = ()
    older_than: timedelta | None = None

    def applies_to(self, source: str | None) -> bool:
        return self.sources is None or (source is not None and source in self.sources)

    def matches(self, subject: Subject, now: datetime, folded: _Folded | None = None) -> bool:
        if self.older_than is not None and not subject.published < now - self.older_than:
            return False
        if self.languages:
            language = subject.language.lower()
            if not any(language == c or language.startswith(c + "-") for c in self.languages):
                return False
        folded = folded or _Folded(subject)
        for name, pattern, words in self.patterns:
            if words is not None and not any(w in v for v in folded.views(name) for w in words):
                return False
            if not any(pattern.search(value) for value in folded.values(name)):
                return False
        return True


def make_rule(
    label: str,
    action: Action,
    *,
    sources: Iterable[str] | None = None,
    patterns: dict[str, str] | None = None,
    languages: Sequence[str] = (),
    older_than: timedelta | None = None,
) -> Rule:
    """A compiled rule; RuleError (`title: missing ), unterminated subpattern at position
    0`) for a field that is not one or a pattern that does not compile."""
    compiled: list[tuple[str, re.Pattern[str], tuple[str, ...] | None]] = []
    for name, pattern in (patterns or {}).items():
        if name not in PATTERN_FIELDS:
            raise RuleError(f"{name}: not a field rules can match")
        try:
            compiled.append((name, compile_pattern(pattern), required_words(pattern)))
        except RuleError as exc:
            raise RuleError(f"{name}: {exc}") from exc
    # The short fields first: a rule that fails on the title never reads the text.
    compiled.sort(key=lambda item: _FIELD_COST[item[0]])
    if not compiled and not languages and older_than is None:
        raise RuleError("a rule needs at least one condition")
    return Rule(
        label=label,
        action=action,
        sources=frozenset(sources) if sources is not None else None,
        patterns=tuple(compiled),
        languages=tuple(c.lower() for c in languages),
        older_than=older_than,
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules say of one entry: `rule` is the label of the rule that decided
    (None when no rule did); `reason` says it in words."""

    blocked: bool
    rule: str | None
    reason: str

    @property
    def action(self) -> str:
        return "block" if self.blocked else "keep"


NO_RULE = Decision(blocked=False, rule=None, reason="no rule applies")


@dataclass(frozen=True, slots=True)
class _Shortlist:
    """Rules indexed by the plain words one of their patterns needs (`required_words`),
    so that an entry is tried, in the rules' order, only against those it could match:
    a rule whose pattern needs words none of which the field's view holds cannot match,
    and with fifty rules the calls to reject them one by one cost more than their
    substring searches. Rules with no such pattern (regexes, languages, ages) are always
    tried."""

    rules: tuple[Rule, ...]
    always: frozenset[int]
    needs: tuple[tuple[str, tuple[tuple[str, tuple[int, ...]], ...]], ...]
    """(field, ((word, indices of the rules that need it), ...)), for each field."""

    @classmethod
    def of(cls, rules: tuple[Rule, ...]) -> _Shortlist:
        always: set[int] = set()
        needs: dict[str, dict[str, list[int]]] = {}
        for index, rule in enumerate(rules):
            keyed = next(((n, words) for n, _, words in rule.patterns if words), None)
            if keyed is None:
                always.add(index)
                continue
            name, words = keyed
            for word in words:
                needs.setdefault(name, {}).setdefault(word, []).append(index)
        return cls(
            rules,
            frozenset(always),
            tuple(
                (name, tuple((word, tuple(at)) for word, at in by_word.items()))
                for name, by_word in needs.items()
            ),
        )

    def candidates(self, folded: _Folded) -> list[Rule]:
        chosen = set(self.always)
        for name, words in self.needs:
            # A plain word holds no line break: it is in one of the views (several
            # authors or tags) exactly when it is in them joined by line breaks.
            views = "\n".join(folded.views(name))
            for word, indices in words:
                if word in views:
                    chosen.update(indices)
        return [self.rules[index] for index in sorted(chosen)]


@dataclass(frozen=True, slots=True)
class SourceRules:
    """The rules that apply to one source, in the order they are tried."""

    block: tuple[Rule, ...] = ()
    keep: tuple[Rule, ...] = ()
    _block: _Shortlist = field(init=False, repr=False, compare=False)
    _keep: _Shortlist = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_block", _Shortlist.of(self.block))
        object.__setattr__(self, "_keep", _Shortlist.of(self.keep))

    def __bool__(self) -> bool:
        return bool(self.block or self.keep)

    def decide(self, subject: Subject, now: datetime) -> Decision:
        if not self:
            return NO_RULE
        folded = _Folded(subject)
        for rule in self._block.candidates(folded):
            if rule.matches(subject, now, folded):
                return Decision(True, rule.label, f"blocked by {rule.label}")
        if not self.keep:
            return NO_RULE
        for rule in self._keep.candidates(folded):
            if rule.matches(subject, now, folded):
                return Decision(False, rule.label, f"kept by {rule.label}")
        labels = ", ".join(rule.label for rule in self.keep)
        return Decision(True, None, f"blocked: matches no keep rule ({labels})")


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every configured rule, in configuration order."""

    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def for_source(self, source: str | None) -> SourceRules:
        """Global block, source block, then global keep and source keep rules."""
        mine = [r for r in self.rules if r.applies_to(source)]

        def ordered(action: Action) -> tuple[Rule, ...]:
            of_action = [r for r in mine if r.action == action]
            return tuple(
                [r for r in of_action if r.sources is None]
                + [r for r in of_action if r.sources is not None]
            )

        return SourceRules(block=ordered("block"), keep=ordered("keep"))
