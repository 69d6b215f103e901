"""Rewrite rules (`[[rewrite]]`): clean an entry's body before it is normalized and stored.

`remove` drops the elements CSS selectors match (boxes such as "Leggi anche", share bars,
newsletter prompts) from the HTML as the source gave it, before sanitizing takes the
`class` and `id` attributes the selectors need. `replace` applies regular expressions to
the text, one run of text at a time (a paragraph, or the text around a link), never to
the markup, so it cannot break the HTML or smuggle any in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import lxml.etree
import lxml.html
from lxml.cssselect import CSSSelector

from ingest.fragments import UNREADABLE_HTML
from ingest.raw import RawArticle

_VERBATIM_TAGS = frozenset({"pre", "code", "script", "style"})


class RewriteError(ValueError):
    """A selector or pattern that cannot be used; the message names it."""


def compile_selector(selector: str) -> CSSSelector:
    """A CSS selector, or RewriteError saying why it is not one."""
    from cssselect import SelectorError

    try:
        return CSSSelector(selector)
    except SelectorError as exc:
        raise RewriteError(f'"{selector}" is not a CSS selector: {exc}') from exc


# Rewrites hold selectors as text: compiled selectors cannot be pickled, and the rules
# travel to the normalizer pool's worker processes (`ingest.pool`).
_compiled_selector = lru_cache(maxsize=1024)(compile_selector)


def compile_replace(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RewriteError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Rewrite:
    """One `[[rewrite]]` table: CSS selectors (as text, checked by `compile_selector`),
    compiled replacements; `sources` None means every source."""

    label: str
    remove: tuple[str, ...] = ()
    replace: tuple[tuple[re.Pattern[str], str], ...] = ()
    sources: frozenset[str] | None = None

    def applies_to(self, source: str | None) -> bool:
        return self.sources is None or (source is not None and source in self.sources)


@dataclass(frozen=True, slots=True)
class Rewriter:
    """The rewrites that apply to one source, in configuration order."""

    rewrites: tuple[Rewrite, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rewrites)

    @classmethod
    def for_source(cls, rewrites: Sequence[Rewrite], source: str | None) -> Rewriter:
        return cls(tuple(r for r in rewrites if r.applies_to(source)))

    def apply(self, raw: RawArticle) -> None:
        """Rewrite `raw`'s body in place."""
        selectors = [_compiled_selector(s) for r in self.rewrites for s in r.remove]
        replacements = [pair for r in self.rewrites for pair in r.replace]
        if raw.body_html is not None:
            raw.body_html = rewrite_html(raw.body_html, selectors, replacements)
        elif raw.body_text is not None and replacements:
            raw.body_text = _replace(raw.body_text, replacements)


def _replace(text: str, replacements: Sequence[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in replacements:
        text = pattern.sub(replacement, text)
    return text


def rewrite_html(
    fragment: str,
    selectors: Sequence[CSSSelector],
    replacements: Sequence[tuple[re.Pattern[str], str]],
) -> str:
    """`fragment` without the elements `selectors` match, `replacements` applied to each
    run of text; unchanged when it does not parse."""
    if not fragment.strip() or not (selectors or replacements):
        return fragment
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except UNREADABLE_HTML:
        return fragment
    for selector in selectors:
        found = selector(root)
        for element in found if isinstance(found, list) else ():
            if isinstance(element, lxml.html.HtmlElement) and element is not root:
                element.drop_tree()  # keeps the text that follows it
    if replacements:
        for element in root.iter():
            if not isinstance(element.tag, str) or element.tag in _VERBATIM_TAGS:
                if element is not root and element.tail:
                    element.tail = _replace(element.tail, replacements)
                continue
            if element.text:
                element.text = _replace(element.text, replacements)
            if element is not root and element.tail:
                element.tail = _replace(element.tail, replacements)
    html = str(lxml.html.tostring(root, encoding="unicode"))
    return html[len("<div>") : -len("</div>")] if html.startswith("<div>") else html
