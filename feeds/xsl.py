"""The browser view of the feeds: `feed.xsl`, written at the output root, and the
`<?xml-stylesheet?>` line that RSS and Atom documents carry to point at it.

Feed readers ignore the processing instruction; a browser opening a feed served as
`application/xml` renders it through the stylesheet (see README, "Feeds in a browser").
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from urllib.parse import urlsplit

from feeds.site import SiteInfo

FEED_XSL = "feed.xsl"


def stylesheet() -> bytes:
    """The bytes of `feed.xsl`, as shipped in this package."""
    return files("feeds").joinpath(FEED_XSL).read_bytes()


def stylesheet_href(site: SiteInfo) -> str:
    """Where feeds find `feed.xsl`: the path of `base_url`, without scheme and host.

    Browsers apply only a stylesheet of the feed's own origin, so a path keeps working
    wherever the output folder is served at that path (`rassegna serve` on localhost
    as much as the public site).
    """
    return urlsplit(site.base_url).path.rstrip("/") + "/" + FEED_XSL


def with_stylesheet(document: bytes, site: SiteInfo) -> bytes:
    """`document` (an XML feed starting with its declaration line) with the stylesheet
    instruction added right after that line."""
    declaration, newline, rest = document.partition(b"\n")
    if not declaration.startswith(b"<?xml ") or not newline:
        raise ValueError("an XML feed must start with its declaration on a line of its own")
    href = escape(stylesheet_href(site), quote=True)
    instruction = f'<?xml-stylesheet type="text/xsl" href="{href}"?>\n'.encode()
    return declaration + newline + instruction + rest
