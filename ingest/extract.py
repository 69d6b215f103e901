"""The article text of one web page for a feed entry whose own text is a teaser.

Extraction order: the site rule for the page's host (`ingest.siterules`), then the
source's own `content_selector` (CSS) with its `strip_selectors`, then trafilatura. Pages
of an article split over several (`next_page_link`) and the single-page version
(`single_page_link`) are fetched through the caller's `fetch`, so they pass the same
client, limits and address guard as everything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import lxml.etree
import lxml.html
import trafilatura
from lxml.cssselect import CSSSelector

from ingest import is_url, normalize
from ingest.charset import decode_document
from ingest.fragments import UNREADABLE_HTML
from ingest.siterules import SiteRule, SiteRules
from ingest.urls import clean_html, resolve

MAX_PAGES = 10
"""Pages of one article followed through `next_page_link`."""
_ALWAYS_DROP = ("script", "style", "noscript", "template")
_PRUNE_DROP = ("form", "nav", "aside", "button", "iframe", "footer", "select", "input")
_WRAPPER_RE = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)

FetchPage = Callable[[str], tuple[bytes, str, str | None] | None]
"""Fetch one more page of the article: (body, final URL, charset), or None if it failed."""


class SelectorError(ValueError):
    """A CSS selector of a source that does not parse."""


@dataclass(frozen=True, slots=True)
class Selectors:
    """A source's own extraction: CSS of the body and of what to remove from the page."""

    content: str | None = None
    strip: tuple[str, ...] = ()

    def compiled(self) -> tuple[CSSSelector | None, list[CSSSelector]]:
        try:
            body = CSSSelector(self.content) if self.content else None
            return body, [CSSSelector(s) for s in self.strip]
        except Exception as exc:  # cssselect raises its own SelectorSyntaxError family
            raise SelectorError(f"not a valid CSS selector: {exc}") from exc


@dataclass(frozen=True, slots=True)
class PageFinder:
    """How a page source finds its articles' text, as full text does for feeds: the site
    rules, the source's selectors, and how to fetch an article's other pages."""

    rules: SiteRules
    selectors: Selectors
    fetch: FetchPage


@dataclass(frozen=True, slots=True)
class Extraction:
    """The body found on a page, and how it was found."""

    html: str  # cleaned fragment, URLs absolute; sanitized later like any content
    method: str  # "rule <file>", "selector", "trafilatura"
    words: int
    pages: int = 1
    author: str | None = None  # what the site rule's `author:` found (title, date: the same)
    title: str | None = None
    date: str | None = None  # as the page writes it; parsed by the caller, in its time zone


def word_count(html_fragment: str) -> int:
    return len(normalize.html_to_text(html_fragment).split()) if html_fragment else 0


def parse_page(
    data: bytes, charset: str | None, *, replacements: Sequence[tuple[str, str]] = ()
) -> lxml.html.HtmlElement | None:
    text, _ = decode_document(data, charset)
    for find, replacement in replacements:
        text = text.replace(find, replacement)
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text)
    except UNREADABLE_HTML:
        return None


def _drop(elements: Sequence[object]) -> None:
    for element in elements:
        if isinstance(element, lxml.html.HtmlElement) and element.getparent() is not None:
            element.drop_tree()


def _xpath(tree: lxml.html.HtmlElement, expression: str) -> list[object]:
    try:
        found = tree.xpath(expression)
    except lxml.etree.XPathError:
        return []
    return list(found) if isinstance(found, list) else [found]


def _first_link(tree: lxml.html.HtmlElement, expressions: Sequence[str], base: str) -> str | None:
    for expression in expressions:
        for found in _xpath(tree, expression):
            href = found.get("href") if isinstance(found, lxml.html.HtmlElement) else str(found)
            url = resolve(str(href or ""), base)
            if url and is_url(url):
                return url
    return None


def _first_text(tree: lxml.html.HtmlElement, expressions: Sequence[str]) -> str | None:
    for expression in expressions:
        for found in _xpath(tree, expression):
            text = found.text_content() if isinstance(found, lxml.html.HtmlElement) else str(found)
            if text.strip():
                return " ".join(text.split())
    return None


def _contains_word(attribute: str, word: str) -> str:
    return f"contains(concat(' ', normalize-space(@{attribute}), ' '), ' {word} ')"


def _strip_by_rule(tree: lxml.html.HtmlElement, rule: SiteRule) -> None:
    for expression in rule.strip:
        _drop(_xpath(tree, expression))
    for word in rule.strip_id_or_class:
        word = word.strip().strip("'\"")
        if word:
            # FiveFilters matches the word anywhere in the id or class attribute.
            literal = f"'{word}'" if "'" not in word else f'"{word}"'
            _drop(_xpath(tree, f"//*[contains(@class, {literal}) or contains(@id, {literal})]"))
    for part in rule.strip_image_src:
        part = part.strip().strip("'\"")
        if part:
            literal = f"'{part}'" if "'" not in part else f'"{part}"'
            _drop(_xpath(tree, f"//img[contains(@src, {literal})]"))


def _prune(body: lxml.html.HtmlElement) -> None:
    """Boxes that are not the article: forms, navigation, and blocks that are mostly links
    (related-article lists, share bars)."""
    _drop([e for tag in _PRUNE_DROP for e in body.iter(tag) if e is not body])
    for element in list(body.iter("div", "ul", "ol", "section", "table")):
        if element is body or element.getparent() is None:
            continue
        text = " ".join(element.text_content().split())
        if not text:
            if not list(element.iter("img", "picture", "figure", "video")):
                element.drop_tree()
            continue
        linked = sum(len(" ".join(a.text_content().split())) for a in element.iter("a"))
        has_paragraphs = any(True for _ in element.iter("p"))
        if linked / len(text) > 0.5 and not has_paragraphs:
            element.drop_tree()


def _bodies(tree: lxml.html.HtmlElement, rule: SiteRule) -> list[lxml.html.HtmlElement]:
    for expression in rule.body:
        found = [e for e in _xpath(tree, expression) if isinstance(e, lxml.html.HtmlElement)]
        if found:
            # Nested matches would repeat text: keep the outermost ones.
            return [
                e for e in found if not any(o is not e and e in o.iterdescendants() for o in found)
            ]
    return []


def _elements(found: object) -> list[lxml.html.HtmlElement]:
    if not isinstance(found, list):
        return []
    return [e for e in found if isinstance(e, lxml.html.HtmlElement)]


def _serialize(elements: Sequence[lxml.html.HtmlElement]) -> str:
    return "".join(lxml.html.tostring(e, encoding="unicode", with_tail=False) for e in elements)


def _cleaned(tree: lxml.html.HtmlElement) -> None:
    _drop([e for tag in _ALWAYS_DROP for e in tree.iter(tag)])
    _drop([c for c in tree.iter(lxml.etree.Comment)])


def _with_metadata(found: Extraction, tree: lxml.html.HtmlElement, rule: SiteRule) -> Extraction:
    """`found` with what the rule's `title:`, `author:` and `date:` find on a page."""
    return replace(
        found,
        title=_first_text(tree, rule.title),
        author=_first_text(tree, rule.author),
        date=_first_text(tree, rule.date),
    )


def with_rule_metadata(
    found: Extraction, data: bytes, charset: str | None, rule: SiteRule
) -> Extraction:
    """`_with_metadata` for a page whose body another extractor found."""
    if not (rule.title or rule.author or rule.date):
        return found
    tree = parse_page(data, charset, replacements=rule.replacements)
    return _with_metadata(found, tree, rule) if tree is not None else found


def by_rule(
    data: bytes,
    *,
    url: str,
    charset: str | None,
    rule: SiteRule,
    fetch: FetchPage,
) -> Extraction | None:
    """The body by a site rule, following its single-page and next-page links."""
    tree = parse_page(data, charset, replacements=rule.replacements)
    if tree is None:
        return None
    if rule.single_page_link:
        single = _first_link(tree, rule.single_page_link, url)
        if single and single != url:
            fetched = fetch(single)
            if fetched is not None:
                other = parse_page(fetched[0], fetched[2], replacements=rule.replacements)
                if other is not None:
                    tree, url = other, fetched[1]
    # Read before the page is stripped: a byline or a date often sits in a stripped box.
    title, author, date = (_first_text(tree, x) for x in (rule.title, rule.author, rule.date))
    parts: list[str] = []
    seen = {url}
    pages = 0
    current: lxml.html.HtmlElement | None = tree
    while current is not None and pages < MAX_PAGES:
        next_url = _first_link(current, rule.next_page_link, url) if rule.next_page_link else None
        _cleaned(current)
        _strip_by_rule(current, rule)
        bodies = _bodies(current, rule)
        if not bodies:
            break
        if rule.prune:
            for body in bodies:
                _prune(body)
        parts.append(clean_html(_serialize(bodies), url)[0])
        pages += 1
        current = None
        if next_url and next_url not in seen:
            seen.add(next_url)
            fetched = fetch(next_url)
            if fetched is not None:
                current = parse_page(fetched[0], fetched[2], replacements=rule.replacements)
                url = fetched[1]
    if not parts:
        return None
    html = "".join(parts)
    words = word_count(html)
    return Extraction(html, f"rule {rule.path}", words, pages, author, title, date)


def by_selector(
    data: bytes, *, url: str, charset: str | None, selectors: Selectors
) -> Extraction | None:
    """The body by the source's CSS `content_selector`, after its `strip_selectors`."""
    body_selector, strip = selectors.compiled()
    if body_selector is None:
        return None
    tree = parse_page(data, charset)
    if tree is None:
        return None
    _cleaned(tree)
    for selector in strip:
        _drop(_elements(selector(tree)))
    found = _elements(body_selector(tree))
    if not found:
        return None
    html = clean_html(_serialize(found), url)[0]
    return Extraction(html, "selector", word_count(html))


def by_trafilatura(data: bytes, *, url: str, charset: str | None) -> Extraction | None:
    text, _ = decode_document(data, charset)
    if not text.strip():
        return None
    try:
        found = trafilatura.extract(
            text, url=url, output_format="html", include_links=True, include_images=True
        )
    except (ValueError, lxml.etree.LxmlError):
        return None
    if not found:
        return None
    match = _WRAPPER_RE.search(str(found))
    html = clean_html(match.group(1) if match else str(found), url)[0]
    return Extraction(html, "trafilatura", word_count(html))


def extract_page(
    data: bytes,
    *,
    url: str,
    charset: str | None,
    rules: SiteRules,
    selectors: Selectors,
    fetch: FetchPage,
    host: str,
) -> tuple[Extraction | None, SiteRule | None]:
    """The article body of a page by the first extractor that finds one, and the site
    rule in force for its host (whether or not it matched)."""
    rule = rules.for_host(host)
    if rule is not None and rule.body:
        found = by_rule(data, url=url, charset=charset, rule=rule, fetch=fetch)
        if found is not None and found.words:
            return found, rule
        if not rule.autodetect_on_failure:
            return None, rule
    found = by_selector(data, url=url, charset=charset, selectors=selectors)
    if found is None or not found.words:
        found = by_trafilatura(data, url=url, charset=charset)
    if found is not None and rule is not None:
        # As FiveFilters: the rule's title, author and date hold whoever found the body.
        found = with_rule_metadata(found, data, charset, rule)
    return found, rule
