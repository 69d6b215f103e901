"""Feeds in a browser: RSS and Atom carry `<?xml-stylesheet?>` pointing at the `feed.xsl`
the build writes, and are served as `application/xml`, while readers still see a clean
feed: feedparser over HTTP, the W3C validator with that content type (newsboat: see
tests/test_newsboat.py). The stylesheet itself is run here with libxslt (lxml); Chromium
renders it in tests/test_conformance.py."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from lxml import etree

from db.store import Store
from feeds.build import build_feeds
from feeds.xsl import FEED_XSL, stylesheet, stylesheet_href, with_stylesheet
from rassegna.server import create_app
from tests.conftest import free_port, serving
from tests.published import TITLES, fill, publish, site

FEEDS = (
    "rss.xml",
    "atom.xml",
    "categoria/cronaca/rss.xml",
    "fonte/gazzetta-del-lago/atom.xml",
    "archivio/1/rss.xml",
    "archivio/1/atom.xml",
)


@pytest.fixture
def served(tmp_path: Path, store: Store) -> Iterator[tuple[str, Path]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    out = tmp_path / "public"
    publish(store, out, base)
    with serving(create_app(out), port):
        yield base, out


def test_stylesheet_href_is_the_path_of_base_url() -> None:
    assert stylesheet_href(site("http://127.0.0.1:8080/")) == "/feed.xsl"
    assert stylesheet_href(site("https://esempio.it")) == "/feed.xsl"
    assert stylesheet_href(site("https://esempio.it/notizie/")) == "/notizie/feed.xsl"
    out = with_stylesheet(b"<?xml version='1.0'?>\n<rss/>", site("https://esempio.it/a&b/"))
    assert out == (
        b"<?xml version='1.0'?>\n"
        b'<?xml-stylesheet type="text/xsl" href="/a&amp;b/feed.xsl"?>\n<rss/>'
    )
    with pytest.raises(ValueError, match="declaration"):
        with_stylesheet(b"<rss/>", site("https://esempio.it/"))


def test_feeds_point_at_the_stylesheet_the_build_writes(tmp_path: Path, store: Store) -> None:
    out = tmp_path / "public"
    report = publish(store, out, "https://esempio.it/notizie/")
    assert FEED_XSL in report.written
    assert (out / FEED_XSL).read_bytes() == stylesheet()
    assert (out / (FEED_XSL + ".gz")).exists()
    for feed in FEEDS:
        lines = (out / feed).read_bytes().split(b"\n")
        assert lines[0].startswith(b"<?xml version=")
        assert lines[1] == b'<?xml-stylesheet type="text/xsl" href="/notizie/feed.xsl"?>', feed
    # The JSON Feed has nothing of the kind.
    assert b"xml-stylesheet" not in (out / "feed.json").read_bytes()
    again = build_feeds(store, site("https://esempio.it/notizie/"), out, fsync=False)
    assert FEED_XSL in again.unchanged and FEED_XSL not in again.written


def test_stylesheet_gives_an_italian_page_of_the_items(tmp_path: Path, store: Store) -> None:
    fill(store)
    out = tmp_path / "public"
    build_feeds(store, site("https://esempio.it/", items_per_feed=50), out, fsync=False)
    transform = etree.XSLT(etree.parse(str(out / FEED_XSL)))
    for feed in ("rss.xml", "atom.xml"):
        page = str(transform(etree.parse(str(out / feed))))
        assert '<html lang="it">' in page
        assert "Questo è un feed" in page
        assert f'<code class="indirizzo">https://esempio.it/{feed}</code>' in page
        assert "31 marzo 2025, 07:00" in page and 'datetime="2025-03-31T07:00:00+02:00"' in page
        # Before the change to summer time, in the article's own offset.
        assert "28 marzo 2025, 08:00" in page and 'datetime="2025-03-28T08:00:00+01:00"' in page
        assert all(t.replace("'", "&#39;") in page or t in page for t in TITLES)


def test_markup_in_a_feed_stays_text_in_the_page() -> None:
    transform = etree.XSLT(etree.XML(stylesheet()))
    feed = etree.XML(
        b"<rss version='2.0'><channel><title>T</title><link>https://esempio.it/</link>"
        b"<description>D</description><item><title>&lt;script&gt;alert(1)&lt;/script&gt;"
        b"</title><link>https://esempio.it/1</link><description>&lt;b&gt;no&lt;/b&gt;"
        b"</description></item></channel></rss>"
    )
    page = str(transform(feed))
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_feedparser_reads_the_served_feeds_cleanly(served: tuple[str, Path]) -> None:
    base, out = served
    for feed in FEEDS:
        response = httpx.get(base + feed)
        assert response.headers["content-type"] == "application/xml; charset=utf-8"
        parsed = feedparser.parse(
            response.content, response_headers={"content-type": response.headers["content-type"]}
        )
        assert parsed.bozo == 0, f"{feed}: {parsed.get('bozo_exception')}"
        assert parsed.version in ("rss20", "atom10"), feed
        assert parsed.entries, feed
        assert all(e.title in TITLES for e in parsed.entries)
    # And over HTTP by feedparser itself, headers and all.
    direct = feedparser.parse(base + "rss.xml")
    assert direct.bozo == 0 and direct.status == 200 and direct.version == "rss20"
    assert direct.headers["content-type"] == "application/xml; charset=utf-8"
    assert (out / "rss.xml").exists()


def test_w3c_validator_accepts_them_as_served(served: tuple[str, Path], shared: Path) -> None:
    pytest.importorskip("html5lib", reason="the W3C validator needs html5lib (test extra)")
    base, out = served
    for feed in FEEDS:
        content_type = httpx.head(base + feed).headers["content-type"]
        done = subprocess.run(
            [
                sys.executable,
                str(shared / "tools" / "validate-feed"),
                str(out / feed),
                base + feed,
                content_type,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "no errors or warnings" in done.stdout
