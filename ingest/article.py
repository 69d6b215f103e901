"""Turning a `RawArticle` into a normalized `ArticleDraft`: every field passes through
`ingest.normalize`, HTML is sanitized, dates become aware."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import lxml.html
import nh3
from lxml import etree

from db.records import ArticleDraft
from ingest import DEFAULT_TIMEZONE, normalize
from ingest.errors import BadArticle
from ingest.fragments import UNREADABLE_HTML
from ingest.raw import RawArticle
from ingest.rewrite import Rewriter
from ingest.rules import SourceRules, Subject

MAX_TITLE_CHARS = 1000
EARLIEST_DATE = datetime(1900, 1, 1, tzinfo=UTC)
"""Sources do not publish news from before 1900: such a date is a broken field."""
FUTURE_TOLERANCE = timedelta(days=1)
"""A date further ahead than this is a broken field (or a trick to head every feed)."""


@dataclass(frozen=True, slots=True)
class DraftRules:
    """Site-wide choices of normalization (config `[normalize]`).

    `category_synonyms` maps a category as sources spell it to our section
    (`Mondo` → `Esteri`), so one section has one feed; names are compared by slug.
    `auto_tags` adds proper-noun tags found in the body to the source's own tags.
    `rewrite` (`[[rewrite]]`) cleans the body before anything else; `filters`
    (`[[rules]]`) are the keep/block rules of the source, applied by the pipelines to
    each draft.
    """

    category_synonyms: Mapping[str, str] = field(default_factory=dict)
    auto_tags: bool = False
    rewrite: Rewriter | None = None
    filters: SourceRules | None = None

    def kept_out(self, draft: ArticleDraft, now: datetime) -> str | None:
        """Why the source's keep/block rules keep `draft` out of the store, or None."""
        if not self.filters:
            return None
        decision = self.filters.decide(Subject.of_draft(draft), now)
        return decision.reason if decision.blocked else None


def to_draft(
    raw: RawArticle,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    default_category: str | None = None,
    rules: DraftRules | None = None,
) -> ArticleDraft:
    """Normalize every field of `raw`; raises BadArticle when nothing usable is left.

    `default_category` (the source's) applies when the article names none.
    """
    rules = rules or DEFAULT_RULES
    if rules.rewrite:
        rules.rewrite.apply(raw)
    zone = ZoneInfo(timezone)
    plain_body = raw.body_text or ""
    # Bare paragraphs (most Markdown bodies) are read without an HTML parser.
    paragraphs = None if raw.body_html is None else normalize.bare_paragraphs(raw.body_html)
    # A usable declared language wins over detection.
    language = normalize.declared_language(raw.language)
    if language is None:
        # Detect from the body (titles alone mislead); the Italian-only rules need the
        # answer. Stopwords are counted on the text as it came, as for plain-text bodies:
        # normalizing it first (a whole pass of the text rules) costs more than the detection.
        if paragraphs is not None:
            plain_body = normalize.paragraphs_text(paragraphs)
        elif raw.body_html is not None:
            plain_body = normalize.extract_html_text(raw.body_html)
        language = normalize.detect_language(plain_body or raw.title)
    # normalize_title leaves plain text: readers often render <title> as HTML.
    title = normalize.normalize_title(raw.title, language=language)[:MAX_TITLE_CHARS]
    if not title:
        raise BadArticle("its title is empty once cleaned")
    body = None if paragraphs is None else _bare_body(paragraphs, language)
    if body is not None:
        content_html, content_text = body
    elif raw.body_html is not None:
        content_html = sanitize_html(normalize_html(raw.body_html, language=language))
        # html_to_text's output is already a fixed point of normalize_text (tested).
        content_text = normalize.html_to_text(content_html, language=language)
    else:
        content_text = normalize.normalize_text(plain_body, language=language)
        content_html = paragraphs_to_html(content_text)
    summary = normalize.normalize_summary(raw.summary, language=language) if raw.summary else ""
    published, updated = _dates(raw, zone)
    authors = raw.authors if isinstance(raw.authors, str) else ", ".join(raw.authors)
    category_name = raw.category or default_category
    category = _category(category_name) if category_name else None
    if category and rules.category_synonyms:
        category = normalize.canonical_category(category, rules.category_synonyms)
    tags = normalize.normalize_tags(raw.tags)
    if rules.auto_tags and content_text:
        tags = normalize.normalize_tags([*tags, *normalize.auto_tags(content_text)])
    return ArticleDraft(
        guid=raw.guid,
        title=title,
        summary=summary,
        content_html=content_html,
        content_text=content_text,
        published=published,
        url=raw.url.strip() if raw.url else None,
        updated=updated,
        authors=_authors(authors) if authors else (),
        category=category or None,
        tags=tuple(tags),
        language=language,
        slug=normalize.make_slug(title),
        image_url=raw.image_url.strip() if raw.image_url else None,
        text_source=raw.text_source,
    )


DEFAULT_RULES = DraftRules()


def _dates(raw: RawArticle, zone: ZoneInfo) -> tuple[datetime, datetime | None]:
    """The article's publication and update times (naive ones read in `zone`); raises
    BadArticle when it has no plausible date and none could be derived."""
    now = datetime.now(UTC)
    published = plausible_date(_aware(raw.published, zone), now)
    if published is None:
        fallback = _aware(raw.fallback_date, zone)
        # The first-seen time or the file's mtime: never ahead of now, never before 1900.
        published = (
            None if fallback is None else plausible_date(fallback, now) or now.astimezone(zone)
        )
    if published is None:
        raise BadArticle("it has no date and none could be derived")
    updated = plausible_date(_aware(raw.updated, zone), now)
    if updated is not None and updated < published:
        updated = published
    return published, updated


_CACHED_NAMES = 4096


@lru_cache(maxsize=_CACHED_NAMES)
def _category(name: str) -> str:
    """`normalize_title` of a category name, cached: a source has a few categories, each
    on many articles (the function is pure, so the cache gives what it would)."""
    return normalize.normalize_title(name)


@lru_cache(maxsize=_CACHED_NAMES)
def _authors(byline: str) -> tuple[str, ...]:
    """`normalize_authors` of a byline, cached (a tuple, so no caller can change it) for
    the same reason."""
    return tuple(normalize.normalize_authors(byline))


def plausible_date(value: datetime | None, now: datetime | None = None) -> datetime | None:
    """`value` when it lies between 1900 and a day from `now` (default: the current time),
    else None: the one rule of what a usable article date is.

    `ingest.feed` applies it while parsing (an implausible date makes the entry undated,
    so it keeps its first-seen date) and `to_draft` again on every draft; both measure
    against the real clock, so they always agree on the same date.
    """
    if value is None:
        return None
    try:
        instant = value.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 or 9999 shifted out of range by the zone
        return None
    if instant < EARLIEST_DATE or instant > (now or datetime.now(UTC)) + FUTURE_TOLERANCE:
        return None
    return value


def _aware(value: datetime | str | None, zone: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return normalize.parse_date(value, tz=str(zone.key))
    if value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value


def normalize_html(fragment: str, *, language: str | None) -> str:
    """Apply the text rules to every text node of an HTML fragment, keeping its markup.

    The whitespace at the edges of each node is kept as is, so inline elements stay
    separated from the words around them.
    """
    if not fragment.strip():
        return ""
    try:
        nodes = lxml.html.fragments_fromstring(fragment)
    except UNREADABLE_HTML:
        return fragment
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(_normalize_node_text(node, language))
            continue
        for element in node.iter():
            if element.tag in _VERBATIM_TAGS or not isinstance(element.tag, str):
                continue
            if element.text:
                element.text = _normalize_node_text(element.text, language)
            if element.tail and element is not node:
                element.tail = _normalize_node_text(element.tail, language)
        parts.append(etree.tostring(node, encoding="unicode", method="html", with_tail=False))
        if node.tail:
            parts.append(_normalize_node_text(node.tail, language))
    return "".join(parts)


def _bare_body(paragraphs: list[tuple[str, str]], language: str | None) -> tuple[str, str] | None:
    """`content_html` and `content_text` of a body of bare paragraphs (`bare_paragraphs`)
    as the parsing path gives them, or None where they could differ.

    `normalize_html` cleans each paragraph's text and writes it back as it is, nh3 keeps
    the paragraphs and their line breaks, and `html_to_text` reads them as
    `paragraphs_text` does, as long as no cleaned text holds a character either
    serializer escapes (`&`, `<`, `>`, NBSP) or any other unprintable one."""
    cleaned: list[tuple[str, str]] = []
    for text, separator in paragraphs:
        node = _normalize_node_text(text, language) if text else ""
        if not node.isprintable() or "&" in node or "<" in node or ">" in node:
            return None
        cleaned.append((node, separator))
    # sanitize_html strips the line break after the last paragraph.
    content_html = "".join(f"<p>{node}</p>{separator}" for node, separator in cleaned).rstrip("\n")
    nodes = [node for node, _ in cleaned]
    if all(nodes) and not any(normalize.SUSPICIOUS_RE.search(node) for node in nodes):
        # html_to_text would run the text rules once more on the paragraphs, one a line:
        # each is a fixed point of them already, and no rule reads across a line break
        # (only ftfy could, and it runs only on suspicious characters).
        return content_html, "\n".join(nodes)
    cleaned[-1] = (cleaned[-1][0], "")
    text = normalize.paragraphs_text(cleaned)
    return content_html, normalize.html_to_text(content_html, language=language, text=text)


_VERBATIM_TAGS = frozenset({"pre", "code", "script", "style", "kbd", "samp"})
_XML_FORBIDDEN_SPACE = re.compile("[\x0b\x0c\x1c-\x1f]")


def _normalize_node_text(text: str, language: str | None) -> str:
    core = text.strip()
    if not core:
        # Whitespace alone stays as it is (it separates inline elements), except the
        # controls Python counts as spaces but XML forbids (VT, FF, FS to US).
        return _XML_FORBIDDEN_SPACE.sub(" ", text)
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    cleaned = normalize.normalize_title(core, language=language)
    # Whitespace at the node's edges separates it from its neighbours: keep one space.
    return (" " if lead else "") + cleaned + (" " if trail else "")


def paragraphs_to_html(text: str) -> str:
    """One `<p>` per line of a normalized body."""
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in text.split("\n") if line)


SAFE_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_URL_ATTRIBUTE_NAMES = frozenset({"href", "src", "cite", "longdesc", "action", "srcset"})
_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_INVISIBLE_RE = re.compile(r"[\x00-\x20\x7f]+")


def _safe_url(value: str) -> bool:
    """Relative, or one of SAFE_URL_SCHEMES, as a browser would read it (browsers drop
    whitespace and control characters before deciding the scheme)."""
    cleaned = _INVISIBLE_RE.sub("", html.unescape(value)).lower()
    match = _SCHEME_RE.match(cleaned)
    return match is None or match.group(1) in SAFE_URL_SCHEMES


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute in _URL_ATTRIBUTE_NAMES and not _safe_url(value):
        return None
    return value


_CLEANER = nh3.Cleaner(
    # nh3's defaults (no script, style, iframe, object, embed, form, svg, math; no event
    # handler or style attribute), with URLs limited to http(s) and mailto everywhere:
    # nh3 checks the scheme of href/src only, not of `cite` (blockquote, q, ins, del).
    url_schemes=set(SAFE_URL_SCHEMES),
    attribute_filter=_attribute_filter,
    link_rel="noopener noreferrer",
)


def sanitize_html(fragment: str) -> str:
    """Only harmless markup survives: no script, style, iframe/object/embed, form, event
    handler, style attribute, and no URL but http(s)/mailto (so no javascript: or data:)."""
    return _CLEANER.clean(fragment).strip()
