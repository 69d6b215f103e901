"""A corpus of known XSS vectors (tests/data/xss/vectors.txt) through the real ingest:
sanitizing alone, then a feed source and a Markdown files source over the whole path
(fetch → parse → normalize → store → build), then every published file read back.

Nothing that runs in a reader's browser may survive: no `script`, `style`, embedding or
form elements, no event handler or style attribute, no URL with a scheme other than
http(s) or mailto (no `javascript:`, `vbscript:`, `data:`...).
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from pytest_httpserver import HTTPServer

from db.records import SourceSpec
from db.store import Store
from feeds.build import build_feeds
from feeds.site import SiteInfo
from ingest.article import sanitize_html
from ingest.fetch import Fetcher
from ingest.pipeline import ingest_files_source
from ingest.remote import RemoteOptions, ingest_remote_source
from tests.reliability_helpers import assert_output_valid
from tests.remote_helpers import policy

VECTORS_FILE = Path(__file__).resolve().parent / "data" / "xss" / "vectors.txt"
VECTORS = [
    line
    for line in VECTORS_FILE.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("# ")
]
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

FORBIDDEN_TAGS = frozenset(
    [
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "form",
        "input",
        "button",
        "textarea",
        "select",
        "option",
        "keygen",
        "isindex",
        "base",
        "meta",
        "link",
        "svg",
        "math",
        "portal",
        "template",
        "noscript",
        "xml",
        "xmp",
        "plaintext",
        "noembed",
        "dialog",
        "bgsound",
        "marquee",
        "handler",
        "foreignobject",
        "param",
    ]
)
URL_ATTRIBUTES = frozenset(
    [
        "href",
        "src",
        "srcset",
        "action",
        "formaction",
        "poster",
        "background",
        "cite",
        "data",
        "dynsrc",
        "lowsrc",
        "ping",
        "codebase",
        "code",
        "classid",
        "longdesc",
        "usemap",
        "xlink:href",
    ]
)
SAFE_SCHEMES = ("http:", "https:", "mailto:")
_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.\-]*):")


def _url_danger(value: str) -> bool:
    """Whether a URL attribute value could run anything: any scheme but http(s)/mailto.
    Browsers drop tabs, newlines and leading control characters before the scheme."""
    cleaned = re.sub(r"[\x00-\x20]", "", html.unescape(value)).lower()
    for candidate in cleaned.split(","):  # srcset lists
        candidate = candidate.strip()
        match = _SCHEME_RE.match(candidate)
        if match and not candidate.startswith(SAFE_SCHEMES):
            return True
    return False


def dangers(markup: str, *, page: bool = False) -> list[str]:
    """What in an HTML fragment (or the body of a whole page) could run script."""
    if not markup.strip():
        return []
    roots: list[lxml.html.HtmlElement]
    if page:
        document = lxml.html.document_fromstring(markup)
        roots = [e for e in document.iter("body") if isinstance(e, lxml.html.HtmlElement)]
    else:
        roots = [lxml.html.fragment_fromstring(markup, create_parent="div")]
    found: list[str] = []
    for root in roots:
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            tag = element.tag.lower().rsplit("}", 1)[-1]
            if tag in FORBIDDEN_TAGS:
                found.append(f"<{tag}>")
            for name, value in element.attrib.items():
                key = str(name).lower()
                if key.startswith("on") or key in ("style", "srcdoc", "formaction"):
                    found.append(f"<{tag} {key}=...>")
                elif key in URL_ATTRIBUTES and _url_danger(str(value)):
                    found.append(f"<{tag} {key}={value!r}>")
    return found


def test_the_corpus_has_at_least_100_vectors() -> None:
    assert len(VECTORS) >= 100
    assert len(set(VECTORS)) == len(VECTORS)


def test_the_checker_itself_sees_the_vectors() -> None:
    """The checker would catch the raw vectors, so a pass below means something."""
    caught = [v for v in VECTORS if dangers(v)]
    assert len(caught) >= 0.8 * len(VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=range(len(VECTORS)))
def test_sanitize_html_neutralizes_every_vector(vector: str) -> None:
    cleaned = sanitize_html(vector)
    assert dangers(cleaned) == [], cleaned
    assert sanitize_html(cleaned) == cleaned  # sanitizing again changes nothing


def _feed(vectors: list[str]) -> bytes:
    items = []
    for n, vector in enumerate(vectors):
        escaped = html.escape(vector, quote=False)
        items.append(
            f"<item><title>Vettore {n} {escaped}</title><link>http://example.org/v/{n}</link>"
            f"<guid>v{n}</guid><pubDate>Mon, 02 Nov 2026 10:00:00 +0100</pubDate>"
            f"<description>Sommario {n} {escaped}</description>"
            f"<content:encoded>&lt;p&gt;Testo {n}&lt;/p&gt;{escaped}</content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>XSS</title>'
        f"<link>http://example.org/</link>{''.join(items)}</channel></rss>"
    ).encode()


def _published_fragments(out: Path) -> list[tuple[str, str]]:
    """(where, markup) of every field of every published file a reader may render as HTML.

    Titles count everywhere, even where the format says "text" (Atom, JSON Feed): many
    readers render an RSS <title> as HTML, and the same title goes into every format.
    Plain-text summaries (Atom type="text", JSON Feed `summary`) are text by definition;
    the RSS description, which is HTML, carries the same summary and is checked.
    """
    found: list[tuple[str, str]] = []
    for path in sorted(out.rglob("*")):
        if path.name in ("rss.xml", "atom.xml"):
            tree = lxml.etree.fromstring(path.read_bytes())
            for element in tree.iter():
                if not isinstance(element.tag, str):
                    continue
                local = element.tag.rsplit("}", 1)[-1]
                kind = element.get("type")
                rss_html = path.name == "rss.xml" and local in ("description", "encoded")
                atom_html = local in ("content", "summary") and kind in ("html", "xhtml")
                if not (local == "title" or rss_html or atom_html):
                    continue
                if kind == "xhtml":
                    markup = "".join(
                        lxml.etree.tostring(child, encoding="unicode") for child in element
                    )
                else:
                    markup = element.text or ""
                found.append((f"{path}:{local}", markup))
        elif path.name == "feed.json":
            document = json.loads(path.read_bytes())
            for item in document["items"]:
                for key in ("content_html", "title"):
                    if isinstance(item.get(key), str):
                        found.append((f"{path}:{key}", item[key]))
    return found


def test_no_vector_survives_ingest_and_publishing(
    httpserver: HTTPServer, store: Store, tmp_path: Path
) -> None:
    httpserver.expect_request("/xss.xml").respond_with_data(
        _feed(VECTORS), content_type="application/rss+xml; charset=utf-8"
    )
    spec = SourceSpec("Fonte maliziosa", "feed", httpserver.url_for("/xss.xml"), "Cronaca")
    with Fetcher(policy()) as fetcher:
        report = ingest_remote_source(store, spec, fetcher, options=RemoteOptions(), now=T0)
    assert report.error is None and report.new == len(VECTORS), report

    folder = tmp_path / "articoli"
    folder.mkdir()
    for n, vector in enumerate(VECTORS):
        (folder / f"vettore-{n:03d}.md").write_text(
            f"---\ntitle: Articolo {n}\ndate: 2026-11-02\n---\n\nTesto {n}.\n\n{vector}\n",
            encoding="utf-8",
        )
    files = ingest_files_source(store, SourceSpec("Cartella maliziosa", "files", str(folder)))
    assert files.new == len(VECTORS), files.problems

    stored = store.latest_articles(10_000)
    assert len(stored) == 2 * len(VECTORS)
    for article in stored:
        assert dangers(article.content_html) == [], (article.title, article.content_html)

    out = tmp_path / "public"
    site = SiteInfo(
        title="Prova XSS",
        link="http://127.0.0.1/",
        base_url="http://127.0.0.1/",
        items_per_feed=1000,
    )
    build_feeds(store, site, out, fsync=False)
    assert assert_output_valid(out) >= 9
    fragments = _published_fragments(out)
    assert len(fragments) > 5 * len(VECTORS)
    unsafe = [(where, d) for where, markup in fragments for d in dangers(markup)]
    assert unsafe == []
    index = (out / "index.html").read_text(encoding="utf-8")
    assert dangers(index, page=True) == []
    # The articles' own text did arrive (the sanitizer is not just dropping everything).
    assert any("Testo 7" in markup for _, markup in fragments)
