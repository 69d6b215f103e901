"""The text of an HTML field: block elements as line breaks, white space collapsed as a
browser would, scripts and styles dropped, entities unescaped (double-escaped ones too).
Not normalized: the text rules run on the result."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Final

from lxml import etree

from ingest.normalize._util import wordset

BLOCK_TAGS: Final = wordset(
    "address article aside blockquote br dd details dialog div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li main nav ol p pre section "
    "summary table tbody thead tfoot tr ul caption body html"
)
CELL_TAGS: Final = frozenset({"td", "th"})
OPENING_BREAKS: Final[Mapping[str, str]] = {tag: "\n" for tag in BLOCK_TAGS} | {
    tag: " " for tag in CELL_TAGS
}
"""What an element adds to the text where it opens: a line break for a block element, a
space for a table cell (so that the words of adjacent cells stay apart)."""
SKIPPED_TAGS: Final = frozenset(
    {"script", "style", "template", "noscript", "head", "title", "svg", "math", "iframe"}
)
ENTITY_RE: Final = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_HTML_WS_RE: Final = re.compile(r"[ \t\n\r\f]+")


def collapse_spaces(text: str) -> str:
    """HTML's white space collapsing: every run of spaces, tabs and line breaks is one space."""
    # Without a double space, tab or line break every match is one space put back as it
    # was: the substitution (which still visits every space) is skipped.
    if "  " in text or "\n" in text or "\t" in text or "\r" in text or "\f" in text:
        return _HTML_WS_RE.sub(" ", text)
    return text


def _plain(markup: str) -> bool:
    """Whether `markup` is text without markup that libxml2 reads as it is (no tag, no
    entity, no character it drops or rewrites, no leading space): it comes out between
    the line breaks of the ``<html><body>`` libxml2 puts around it. Titles and
    summaries mostly are such text, and parsing them cost more than their text rules.
    Checked against the parser on every such character, alone and all together
    (tests/test_normalize_text.py)."""
    return (
        markup[:1] not in ("", " ")
        and "<" not in markup
        and "&" not in markup
        and markup.isprintable()
    )


def html_text(markup: str) -> str:
    """Text of an HTML fragment, block elements as line breaks (lxml: libxml2's parser).

    lxml rather than the standard library's html.parser: the latter is quadratic on
    unclosed tags (a hostile field of ``<a `` stalls it), libxml2 is linear. Bytes in, with the
    encoding forced, because lxml refuses ``str`` input that carries an XML declaration.
    """
    if _plain(markup):
        return f"\n\n{collapse_spaces(markup)}\n\n"
    return parsed_text(markup)


def parsed_text(markup: str) -> str:
    """`html_text` through the parser, whatever the markup."""
    data = markup.encode("utf-8", errors="replace")
    root = etree.fromstring(data, etree.HTMLParser(encoding="utf-8", recover=True))
    if root is None:
        return ""
    parts: list[str] = []
    skipped = 0
    pre = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""  # comments, PIs: no tag
        if event == "start":
            if tag in SKIPPED_TAGS:
                skipped += 1
            if opening := OPENING_BREAKS.get(tag):
                parts.append(opening)
            if tag == "pre":
                pre += 1
            if not skipped and tag and element.text:
                # HTML collapses white space: a source newline is a space, except in <pre>.
                parts.append(element.text if pre else collapse_spaces(element.text))
        else:
            if tag in SKIPPED_TAGS:
                skipped -= 1
            if tag in BLOCK_TAGS:
                parts.append("\n")
            if tag == "pre":
                pre -= 1
            if not skipped and element.tail:
                parts.append(element.tail if pre else collapse_spaces(element.tail))
    text = "".join(parts)
    # Double-escaped entities (``citt&amp;agrave;``) come out of the parser as
    # ``&agrave;``: unescape once more. Unknown names stay untouched (html.unescape).
    if "&" in text:
        text = ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), text)
    return text


# A body of bare paragraphs: `<p>` elements holding text and no markup, `&quot;`
# its one entity, at most a line break between them. `ingest.files.render_markdown`
# writes plain prose this way, and most article bodies are plain prose.
_BARE_PARAGRAPHS_RE: Final = re.compile(r"(?:<p>[^<>&]*+(?:&quot;[^<>&]*+)*+</p>\n?)++")
_BARE_PARAGRAPH_RE: Final = re.compile(r"<p>([^<]*+)</p>(\n?)")


def bare_paragraphs(markup: str) -> list[tuple[str, str]] | None:
    """The text and the separator that follows (a line break or nothing) of each
    paragraph of `markup`, when it is bare paragraphs only (above), else None.

    libxml2 reads such markup as it is (`paragraphs_text`), so its text comes without a
    parse. Its text must be printable but for line breaks and NBSP, and start and end with
    no white space: text that both libxml2 parsers (`parsed_text`, `lxml.html`) keep as it
    is (libxml2 rewrites a carriage return, drops NUL). NBSP is allowed for mojibake's sake
    (`Ã` + NBSP is `à` read as Windows-1252)."""
    if (
        not _BARE_PARAGRAPHS_RE.fullmatch(markup)
        or not markup.replace("\n", "").replace("\xa0", " ").isprintable()
    ):
        return None
    paragraphs = _BARE_PARAGRAPH_RE.findall(markup)
    for text, _ in paragraphs:
        if text[:1].isspace() or text[-1:].isspace():
            return None
    if "&" in markup:
        return [(text.replace("&quot;", '"'), separator) for text, separator in paragraphs]
    return paragraphs


def paragraphs_text(paragraphs: list[tuple[str, str]]) -> str:
    """`parsed_text` of the bare paragraphs `paragraphs` (`bare_paragraphs`): the line breaks
    of the `<html>` and `<body>` libxml2 puts around them, each paragraph's text between
    two, and a line break after a paragraph read as a space."""
    return (
        "\n\n"
        + "".join(
            f"\n{collapse_spaces(text)}\n{' ' if separator else ''}"
            for text, separator in paragraphs
        )
        + "\n\n"
    )
