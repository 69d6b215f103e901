"""The page adapter: an article web page read into a `RawArticle` with trafilatura (text,
title, author, description, lead image), plus the links of an index page and feed
autodiscovery (`<link rel="alternate" type="application/rss+xml">`).

With a `PageFinder`, the article's body is found as full text finds it for feeds
(`ingest.extract`): the site rule for the page's host, then the source's
`content_selector`, then trafilatura; the rule's `title:`, `author:` and `date:` win over
what trafilatura reads from the page's metadata.

Relative URLs are resolved against the page's `<base href>`, then its final URL.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import lxml.etree
import lxml.html
import trafilatura

from ingest import DEFAULT_TIMEZONE, is_url, normalize, tracking
from ingest.errors import BadArticle
from ingest.extract import Extraction, PageFinder, extract_page, parse_page
from ingest.raw import RawArticle
from ingest.urls import canonical_url, clean_html, is_pixel, resolve, strip_tracking

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
    "application/json",
)
_DATE_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "dc.date",
    "dc.date.issued",
    "date",
    "pubdate",
)
_UPDATED_META = ("article:modified_time", "og:updated_time", "datemodified")
MIN_ARTICLE_CHARS = 80
"""Less extracted text than this is navigation or a footer, not an article: storing it
would replace a good stored version of the page with junk."""


def _document(
    data: bytes, url: str, charset: str | None
) -> tuple[lxml.html.HtmlElement | None, str]:
    """The page's tree (None for an empty or unreadable page) and the URL its links are
    relative to: its `<base>`, else `url`."""
    tree = parse_page(data, charset)
    for href in tree.xpath("//base/@href") if tree is not None else ():
        return tree, resolve(str(href), url) or url
    return tree, url


def find_feed_links(data: bytes, *, base: str, charset: str | None = None) -> list[str]:
    """Feeds a page advertises, in document order, as absolute URLs."""
    tree, base = _document(data, base, charset)
    if tree is None:
        return []
    found: list[str] = []
    for link in tree.xpath("//link[@href]"):
        rel = str(link.get("rel") or "").lower().split()
        kind = str(link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES:
            url = resolve(str(link.get("href")), base)
            if url and url not in found:
                found.append(url)
    return found


def find_article_links(
    data: bytes, *, base: str, pattern: re.Pattern[str], charset: str | None = None
) -> list[str]:
    """Absolute links of an index page whose URL matches `pattern` (search), in order."""
    tree, base = _document(data, base, charset)
    if tree is None:
        return []
    found: list[str] = []
    for href in tree.xpath("//a/@href"):
        url = resolve(str(href), base)
        if not url or not is_url(url):
            continue
        url = strip_tracking(url.split("#", 1)[0])
        if pattern.search(url) and url not in found:
            found.append(url)
    return found


def _meta(tree: lxml.html.HtmlElement, names: tuple[str, ...]) -> str | None:
    for element in tree.xpath("//meta[@content]"):
        key = str(element.get("property") or element.get("name") or element.get("itemprop") or "")
        if key.lower() in names:
            value = str(element.get("content") or "").strip()
            if value:
                return value
    return None


def _json_ld_dates(tree: lxml.html.HtmlElement) -> tuple[str | None, str | None]:
    for script in tree.xpath('//script[@type="application/ld+json"]/text()'):
        try:
            data: Any = json.loads(str(script))
        except ValueError:
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and item.get("datePublished"):
                return str(item["datePublished"]), (
                    str(item["dateModified"]) if item.get("dateModified") else None
                )
    return None, None


def extract_article(
    data: bytes,
    *,
    url: str,
    http_charset: str | None = None,
    now: datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    strip_tracking: bool = True,
    finder: PageFinder | None = None,
) -> RawArticle:
    """Read one article page; raises BadArticle when no article text is found.

    With `strip_tracking`, tracking parameters leave its URL and the links of its text;
    with `finder`, the body is found by site rule, selector, then trafilatura."""
    keep = not strip_tracking
    tree, base = _document(data, url, http_charset)
    if tree is None:
        raise BadArticle("the page is empty")
    # Tracking pixels go before extraction: trafilatura drops the width and height that
    # identify them.
    for img in list(tree.iter("img")):
        if is_pixel(img):
            img.drop_tree()
    text = lxml.html.tostring(tree, encoding="unicode")
    document = trafilatura.bare_extraction(text, url=url, with_metadata=True)
    found = _found(text, url, finder)
    body_html = (
        found.html
        if found is not None
        else trafilatura.extract(
            text, url=url, output_format="html", include_links=True, include_images=True
        )
    )
    if document is None or not body_html:
        raise BadArticle("no article text found on the page")
    meta: dict[str, Any] = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    body, first_image = clean_html(_strip_html_wrapper(str(body_html)), base, tracking=keep)
    size = len(" ".join(normalize.html_to_text(body).split()))
    if size < MIN_ARTICLE_CHARS:
        raise BadArticle(f"no article text found on the page (only {size} characters)")
    canonical = None
    for href in tree.xpath('//link[@rel="canonical"]/@href'):
        canonical = resolve(str(href), base)
        break
    published_text = (found.date if found else None) or _meta(tree, _DATE_META)
    updated_text = _meta(tree, _UPDATED_META)
    if published_text is None:
        published_text, updated_text = _json_ld_dates(tree)
    if published_text is None:
        for value in tree.xpath("//time/@datetime"):
            published_text = str(value)
            break
    published = (
        normalize.parse_date(published_text, now=now, tz=timezone) if published_text else None
    )
    if published is None and meta.get("date"):
        published = normalize.parse_date(str(meta["date"]), now=now, tz=timezone)
    updated = normalize.parse_date(updated_text, now=now, tz=timezone) if updated_text else None
    link = canonical or url
    link = link if keep else tracking.strip_tracking(link)
    title = ((found.title if found else None) or str(meta.get("title") or "")).strip()
    if not title:
        raise BadArticle("the page has no title")
    author = (found.author if found else None) or str(meta.get("author") or "")
    return RawArticle(
        guid=canonical_url(link, tracking=keep) or link,
        title=title,
        origin=url,
        summary=str(meta.get("description") or ""),
        body_html=body,
        url=link,
        published=published,
        updated=updated,
        authors=[a.strip() for a in author.split(";") if a.strip()],
        tags=[str(t) for t in meta.get("tags") or [] if str(t).strip()],
        language=str(meta.get("language") or "") or None,
        image_url=resolve(str(meta.get("image") or ""), base) or first_image,
    )


def _found(text: str, url: str, finder: PageFinder | None) -> Extraction | None:
    """The body by the finder's extraction order, or None (trafilatura alone, as before)."""
    if finder is None:
        return None
    found, _rule = extract_page(
        text.encode("utf-8"),
        url=url,
        charset="utf-8",
        rules=finder.rules,
        selectors=finder.selectors,
        fetch=finder.fetch,
        host=urlsplit(url).hostname or "",
    )
    return found if found is not None and found.words else None


def _strip_html_wrapper(markup: str) -> str:
    """trafilatura's HTML output is a whole document; keep what is inside <body>."""
    match = re.search(r"<body[^>]*>(.*)</body>", markup, re.DOTALL | re.IGNORECASE)
    return match.group(1) if match else markup
