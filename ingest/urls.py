"""URLs of remote content: canonical links (for identity), tracking parameters, relative
URLs, and the HTML clean-up that runs before sanitizing (resolve, drop tracking pixels)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.etree
import lxml.html

from ingest.fragments import UNREADABLE_HTML
from ingest.normalize import bare_paragraphs
from ingest.tracking import strip_tracking

__all__ = ["canonical_url", "clean_html", "is_pixel", "resolve", "strip_tracking"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_URL_ATTRIBUTES = {"a": "href", "img": "src", "source": "src", "video": "src", "audio": "src"}
# Control characters cannot be stored in an lxml attribute (it raises), and browsers
# ignore them inside URLs anyway (`java&#14;script:` is `javascript:` to them).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def canonical_url(url: str | None, *, tracking: bool = False) -> str | None:
    """The identity form of a link: tracking parameters removed (unless `tracking`, for
    `[ingest] strip_tracking = false`), scheme and host lower-cased, default port and
    fragment dropped. None for a blank or non-http link."""
    if not url or not url.strip():
        return None
    url = url.strip()
    parts = urlsplit(url if tracking else strip_tracking(url))
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


def resolve(url: str | None, base: str | None) -> str | None:
    """`url` made absolute against `base` (None stays None)."""
    if not url or not url.strip():
        return None
    url = url.strip()
    return urljoin(base, url) if base else url


def is_pixel(img: lxml.html.HtmlElement) -> bool:
    """A 1x1 (or 0x0) image: a tracking pixel, never content."""
    sizes = []
    for name in ("width", "height"):
        value = (img.get(name) or "").strip().lower().removesuffix("px")
        if value.isdigit():
            sizes.append(int(value))
    style = (img.get("style") or "").replace(" ", "").lower()
    for name in ("width", "height"):
        match = re.search(rf"(?:^|;){name}:(\d+)px", style)
        if match:
            sizes.append(int(match.group(1)))
    return len(sizes) >= 2 and all(s <= 1 for s in sizes)


def clean_html(
    fragment: str, base: str | None, *, tracking: bool = False
) -> tuple[str, str | None]:
    """Resolve relative URLs against `base`, drop tracking pixels and tracking parameters
    in links (kept when `tracking`); returns the HTML and the first remaining image (a
    lead image candidate).

    Runs before nh3 sanitizing, which then sees only absolute URLs.
    """
    if not fragment.strip():
        return "", None
    if written_back_as_is(fragment):
        return fragment, None
    try:
        return _clean_parsed(fragment, base, tracking=tracking)
    except UNREADABLE_HTML:
        # Unreadable, or a pixel dropped beside a control character lxml refuses to keep.
        return fragment, None


def _clean_parsed(fragment: str, base: str | None, *, tracking: bool) -> tuple[str, str | None]:
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    first_image: str | None = None
    for element in list(root.iter("a", "img", "source", "video", "audio")):
        tag = str(element.tag)
        if tag == "img" and is_pixel(element):
            element.drop_tree()
            continue
        attribute = _URL_ATTRIBUTES[tag]
        value = _CONTROL_RE.sub("", element.get(attribute) or "")
        if value:
            absolute = resolve(value, base) or value
            keep = tracking or tag != "a"
            element.set(attribute, absolute if keep else strip_tracking(absolute))
            if tag == "img" and first_image is None:
                first_image = absolute
    html = lxml.html.tostring(root, encoding="unicode")
    # Drop the wrapper <div> the parser added.
    inner = html[len("<div>") : -len("</div>")] if html.startswith("<div>") else html
    return inner, first_image


def written_back_as_is(fragment: str) -> bool:
    """Whether `fragment` is bare paragraphs (`normalize.bare_paragraphs`) with no entity
    and no NBSP: it holds nothing `clean_html` rewrites (no link, no image), and lxml
    would write it back character for character, so the parse is skipped. Most feed
    bodies are plain prose like this."""
    return "&" not in fragment and "\xa0" not in fragment and bare_paragraphs(fragment) is not None
