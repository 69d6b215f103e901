"""`feeds.render` and `feeds.jsonfeed`: one test per feedgen trap, dates, any text at all."""

from __future__ import annotations

import html
import json
import locale
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from feedgen.feed import FeedGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from db.records import Label
from feeds.common import EMPTY_FEED_DATE
from feeds.jsonfeed import render_json
from feeds.render import EntryCache, render_xml, ttl_minutes, update_schedule
from feeds.sections import FeedKind, root_spec, section_spec
from feeds.site import SiteInfo
from tests.factories import stored_article as article

SITE = SiteInfo(title="Rassegna", link="https://rassegna.example.it/", base_url="http://x.test")
ROOT = root_spec(SITE)
NS = {
    "a": "http://www.w3.org/2005/Atom",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
}
RFC822 = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d [+-]\d{4}"
)


def nodes(node: etree._Element, expr: str) -> list[Any]:
    """An XPath node-set or string list, typed for mypy (lxml types every result shape)."""
    found = node.xpath(expr, namespaces=NS)
    assert isinstance(found, list)
    return found


def rss_tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


# -- trap 1: updated defaults to now() -------------------------------------------------


def test_feed_and_entry_updated_come_from_the_items_not_the_clock() -> None:
    items = [article(2), article(1, updated=datetime(2025, 7, 1, 12, 0, tzinfo=UTC))]
    first = render_xml(SITE, ROOT, items)
    atom = etree.fromstring(first.atom)
    # The newest *updated* (item 1, edited later) rather than the newest published.
    # (The three digits after the microseconds are the article's id: see
    # test_atom_updated_is_unique_even_for_articles_stored_in_the_same_microsecond.)
    assert atom.findtext("a:updated", namespaces=NS) == "2025-07-01T14:00:00.000000001+02:00"
    entry_dates = nodes(atom, "a:entry/a:updated/text()")
    assert entry_dates == [
        "2025-06-01T12:05:00.000000002+02:00",
        "2025-07-01T14:00:00.000000001+02:00",
    ]
    rss = rss_tree(first.rss)
    assert rss.findtext("channel/lastBuildDate") == "Tue, 01 Jul 2025 14:00:00 +0200"
    # Plain feedgen would differ here: its defaults are the clock's now().
    assert render_xml(SITE, ROOT, items) == first


def test_an_empty_feed_has_a_fixed_date() -> None:
    rendered = render_xml(SITE, ROOT, [])
    atom = etree.fromstring(rendered.atom)
    assert (
        atom.findtext("a:updated", namespaces=NS) == EMPTY_FEED_DATE.astimezone(SITE.tz).isoformat()
    )
    assert rss_tree(rendered.rss).findtext("channel/lastBuildDate") == (
        "Sat, 01 Jan 2000 01:00:00 +0100"
    )
    assert render_xml(SITE, ROOT, []) == rendered


# -- trap 2: the RSS channel <link> is the last link added ------------------------------


def test_rss_channel_link_is_the_site_page_and_self_is_the_file() -> None:
    hubbed = replace(SITE, hubs=("https://hub.example.it/",))
    spec = section_spec(hubbed, FeedKind.CATEGORY, Label("Cronaca", "cronaca"))
    rendered = render_xml(hubbed, spec, [article()])
    rss = rss_tree(rendered.rss)
    assert rss.findtext("channel/link") == SITE.link
    assert nodes(rss, "channel/a:link[@rel='self']/@href") == [
        "http://x.test/categoria/cronaca/rss.xml"
    ]
    assert nodes(rss, "channel/a:link[@rel='hub']/@href") == ["https://hub.example.it/"]
    atom = etree.fromstring(rendered.atom)
    links = {(ln.get("rel"), ln.get("href")) for ln in atom.findall("a:link", NS)}
    assert links == {
        ("self", "http://x.test/categoria/cronaca/atom.xml"),
        ("hub", "https://hub.example.it/"),
        ("alternate", SITE.link),
    }
    # The trap itself, in plain feedgen: the last link added wins.
    fg = FeedGenerator()
    fg.link(href=SITE.link, rel="alternate")
    fg.link(href="http://x.test/rss.xml", rel="self")
    assert fg.link()[-1]["href"] == "http://x.test/rss.xml"


# -- trap 3: RFC 822 dates and locale.setlocale -----------------------------------------


def test_setlocale_is_never_called(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object) -> str:
        raise AssertionError("locale.setlocale called")

    monkeypatch.setattr(locale, "setlocale", forbidden)
    items = [article(1), article(2)]
    rendered = render_xml(SITE, ROOT, items)
    dates = nodes(rss_tree(rendered.rss), "//pubDate/text() | //lastBuildDate/text()")
    assert len(dates) == 3
    assert all(RFC822.fullmatch(d) for d in dates)
    # The test can fail: plain feedgen calls setlocale for every RSS date.
    fg = FeedGenerator()
    fg.title("t")
    fg.link(href=SITE.link)
    fg.description("d")
    with pytest.raises(AssertionError, match="setlocale"):
        fg.rss_str()


def test_rfc822_names_are_english_under_an_italian_locale(tmp_path: Path) -> None:
    """A separate process with LC_ALL/LC_TIME Italian (when the machine has the locale)."""
    script = (
        "import locale, sys\n"
        "try:\n"
        "    locale.setlocale(locale.LC_ALL, 'it_IT.UTF-8')\n"
        "except locale.Error:\n"
        "    pass\n"
        "from datetime import datetime, UTC\n"
        "from feeds.common import rfc822\n"
        "from feeds.site import SiteInfo\n"
        "site = SiteInfo(title='t', link='l', base_url='b')\n"
        "print(rfc822(datetime(2025, 12, 1, 9, tzinfo=UTC), site.tz))\n"
    )
    env = {"LC_ALL": "it_IT.UTF-8", "LC_TIME": "it_IT.UTF-8", "PYTHONPATH": str(Path.cwd())}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "Mon, 01 Dec 2025 10:00:00 +0100"


# -- trap 4: sy:UpdatePeriod spelling ---------------------------------------------------


def test_syndication_elements_are_spelled_right_and_match_the_interval() -> None:
    rss = render_xml(replace(SITE, interval_seconds=900), ROOT, [article()]).rss
    channel = rss_tree(rss).find("channel")
    assert channel is not None
    assert channel.findtext("sy:updatePeriod", namespaces=NS) == "hourly"
    assert channel.findtext("sy:updateFrequency", namespaces=NS) == "4"
    assert channel.findtext("ttl") == "15"
    assert b"UpdatePeriod" not in rss and b"UpdateFrequency" not in rss
    assert update_schedule(600) == ("hourly", 6)
    assert update_schedule(2 * 3600) == ("daily", 12)
    assert update_schedule(86400) == ("daily", 1)
    assert ttl_minutes(90) == 2


# -- trap 5: Atom enclosures ------------------------------------------------------------


def test_lead_image_is_an_enclosure_in_both_formats(atom_schema: etree.RelaxNG) -> None:
    item = article(image_url="https://gazzetta.example.it/foto/piazza.jpg?w=800")
    rendered = render_xml(SITE, ROOT, [item])
    atom = etree.fromstring(rendered.atom)
    links = atom.findall("a:entry/a:link", NS)
    # feedgen drops every entry link attribute but href (bug #135), so the alternate link
    # has no rel: RFC 4287 reads that as "alternate". What matters: exactly one of them.
    assert [ln.get("href") for ln in links if ln.get("rel") in (None, "alternate")] == [item.url]
    (enclosure,) = [ln for ln in links if ln.get("rel") == "enclosure"]
    assert enclosure.get("href") == item.image_url
    assert enclosure.get("type") == "image/jpeg"
    assert enclosure.get("length") == "0"
    assert atom_schema.validate(etree.ElementTree(atom))
    (rss_enclosure,) = rss_tree(rendered.rss).findall("channel/item/enclosure")
    assert dict(rss_enclosure.items()) == {
        "url": item.image_url,
        "length": "0",
        "type": "image/jpeg",
    }
    parsed = feedparser.parse(rendered.atom)
    assert parsed.entries[0].link == item.url
    assert parsed.entries[0].enclosures[0].href == item.image_url


def test_an_image_of_unknown_type_is_no_enclosure() -> None:
    rendered = render_xml(SITE, ROOT, [article(image_url="https://x.test/immagine")])
    assert b"enclosure" not in rendered.rss and b"enclosure" not in rendered.atom


@pytest.mark.parametrize(
    "image_url", ["file:///srv/feed/media/foto.jpg", "/media/foto.jpg", "ftp://x.test/foto.jpg"]
)
def test_an_image_that_is_not_a_web_url_is_never_published(image_url: str) -> None:
    # A relative image of a feed read from a file is resolved against its file:// URL:
    # the W3C validator says "url must be a full URL", and it names a path of the server.
    item = article(image_url=image_url)
    rendered = render_xml(SITE, ROOT, [item])
    assert b"enclosure" not in rendered.rss and b"enclosure" not in rendered.atom
    [entry] = json.loads(render_json(SITE, ROOT, [item]))["items"]
    assert "image" not in entry


# -- trap 6: content(type='CDATA') -------------------------------------------------------


def test_content_is_html_typed_never_cdata(atom_schema: etree.RelaxNG) -> None:
    item = article(content_html="<p>Città &amp; campagna: <b>più</b> verde</p>")
    rendered = render_xml(SITE, ROOT, [item])
    atom = etree.fromstring(rendered.atom)
    content = atom.find("a:entry/a:content", NS)
    assert content is not None
    assert content.get("type") == "html"
    assert content.text == item.content_html
    assert b"CDATA" not in rendered.atom and b"CDATA" not in rendered.rss
    assert atom_schema.validate(etree.ElementTree(atom))
    encoded = rss_tree(rendered.rss).findtext("channel/item/content:encoded", namespaces=NS)
    assert encoded == item.content_html


# -- trap 7: add_entry prepends ---------------------------------------------------------


def test_entries_keep_the_given_order() -> None:
    items = [article(3), article(2), article(1)]
    rendered = render_xml(SITE, ROOT, items)
    assert [e.id for e in feedparser.parse(rendered.rss).entries] == [a.uid for a in items]
    assert [e.id for e in feedparser.parse(rendered.atom).entries] == [a.uid for a in items]


# -- trap 8: media:group ----------------------------------------------------------------


def test_no_media_extension_is_loaded() -> None:
    rendered = render_xml(SITE, ROOT, [article(image_url="https://x.test/a.png")])
    assert b"media:" not in rendered.rss and b"media:" not in rendered.atom


# -- the rest of an entry ---------------------------------------------------------------


def test_authors_are_dc_creator_and_atom_author() -> None:
    item = article(authors=("Marco Neri", "Lucia Verdi"))
    rendered = render_xml(SITE, ROOT, [item, article(2, authors=())])
    rss = rss_tree(rendered.rss)
    assert nodes(rss, "//item[1]/dc:creator/text()") == ["Marco Neri", "Lucia Verdi"]
    assert nodes(rss, "//item[2]/dc:creator") == []
    assert nodes(rss, "//author") == []
    atom = etree.fromstring(rendered.atom)
    assert nodes(atom, "a:entry[1]/a:author/a:name/text()") == [
        "Marco Neri",
        "Lucia Verdi",
    ]
    assert nodes(atom, "a:entry[2]/a:author/a:name/text()") == ["Rassegna"]


def test_categories_and_tags_are_categories() -> None:
    rendered = render_xml(SITE, ROOT, [article()])
    rss = rss_tree(rendered.rss)
    assert [(c.text, c.get("domain")) for c in rss.iter("category")] == [
        ("Cronaca", "http://x.test/categoria/"),
        ("Università", "http://x.test/tag/"),
    ]
    atom = etree.fromstring(rendered.atom)
    assert [(c.get("term"), c.get("label")) for c in atom.iter("{*}category")] == [
        ("cronaca", "Cronaca"),
        ("universita", "Università"),
    ]


def test_titles_are_plain_text_escaped_once() -> None:
    item = article(title="Sì & no: <il> dilemma dell'«euro»", summary="A < B & C")
    rendered = render_xml(SITE, ROOT, [item])
    assert b"Si &amp; no" not in rendered.rss
    assert "Sì &amp; no: &lt;il&gt; dilemma dell'«euro»".encode() in rendered.rss
    atom = etree.fromstring(rendered.atom)
    assert atom.findtext("a:entry/a:title", namespaces=NS) == item.title
    assert atom.findtext("a:entry/a:summary", namespaces=NS) == "A < B & C"
    # RSS description is HTML to readers: the plain summary is escaped once for them.
    assert rss_tree(rendered.rss).findtext("channel/item/description") == "A &lt; B &amp; C"
    assert not re.search(rb"&(?!amp;|lt;|gt;|quot;|#)\w+;", rendered.rss + rendered.atom)
    data = json.loads(render_json(SITE, ROOT, [item]))
    assert data["items"][0]["title"] == item.title


def test_entry_cache_gives_the_same_bytes() -> None:
    items = [article(1), article(2)]
    cache = EntryCache(SITE)
    first = render_xml(SITE, ROOT, items, cache)
    again = render_xml(SITE, ROOT, items[1:], cache)
    assert first == render_xml(SITE, ROOT, items)
    assert again == render_xml(SITE, ROOT, items[1:])


def test_control_characters_are_dropped() -> None:
    item = article(title="Nota\x00 \x0bbene\x1f", content_html="<p>a\x08b</p>", authors=("A\x07",))
    rendered = render_xml(SITE, ROOT, [item])
    parsed = feedparser.parse(rendered.rss)
    assert parsed.bozo == 0
    assert parsed.entries[0].title == "Nota bene"
    assert json.loads(render_json(SITE, ROOT, [item]))["items"][0]["content_html"] == "<p>ab</p>"


def test_del_c1_controls_and_noncharacters_are_dropped() -> None:
    # XML carries them, but HTML parsers reject them (the W3C validator: "Invalid HTML",
    # "bad characters"); ingest never stores them, older or hand-written rows may.
    odd = "\x7f\x85\x9f\ufdd0\ufffe\U0001fffe\U0010ffff"
    item = article(
        title=f"Nota{odd} bene",
        summary=f"Il{odd} sommario",
        content_html=f"<p>a{odd}b</p>",
        authors=(f"Anna{odd} Rossi",),
    )
    rendered = render_xml(SITE, ROOT, [item])
    document = json.loads(render_json(SITE, ROOT, [item]))
    for data in (
        rendered.rss.decode(),
        rendered.atom.decode(),
        json.dumps(document, ensure_ascii=False),
    ):
        assert not any(c in data for c in odd)
    assert document["items"][0]["content_html"] == "<p>ab</p>"
    assert document["items"][0]["title"] == "Nota bene"


# -- any text at all ---------------------------------------------------------------------

_text = st.text(max_size=80)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=_text,
    summary=_text,
    content=st.text(max_size=300),
    authors=st.lists(_text, max_size=3),
    category=_text,
    tag=_text,
)
def test_any_text_gives_feeds_readers_accept(
    atom_schema: etree.RelaxNG,
    title: str,
    summary: str,
    content: str,
    authors: list[str],
    category: str,
    tag: str,
) -> None:
    item = article(
        title=title,
        summary=summary,
        content_html=content,
        content_text=content,
        authors=tuple(authors),
        category=Label(category, "cronaca"),
        tags=(Label(tag, "tag"),),
    )
    spec = section_spec(SITE, FeedKind.CATEGORY, Label(category or "x", "cronaca"))
    rendered = render_xml(SITE, spec, [item, article(2)])
    for data in (rendered.rss, rendered.atom):
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert len(parsed.entries) == 2
        assert parsed.entries[0].id == item.uid
    assert atom_schema.validate(etree.fromstring(rendered.atom)), atom_schema.error_log
    data = json.loads(render_json(SITE, spec, [item]).decode("utf-8"))
    assert data["items"][0]["id"] == item.uid
    assert data["items"][0]["title"]


def test_entry_language_is_marked_only_when_it_differs(atom_schema: etree.RelaxNG) -> None:
    italian = article(1, language="it")
    english = article(2, language="en", title="Students' union meets the mayor")
    rendered = render_xml(SITE, ROOT, [english, italian])
    atom = etree.fromstring(rendered.atom)
    entries = atom.findall("a:entry", NS)
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    assert [e.get(xml_lang) for e in entries] == ["en", None]
    assert atom_schema.validate(etree.ElementTree(atom))
    items = rss_tree(rendered.rss).findall("channel/item")
    assert [i.findtext("dc:language", namespaces=NS) for i in items] == ["en", None]
    parsed = feedparser.parse(rendered.atom)
    assert parsed.bozo == 0 and parsed.entries[0].title_detail.language == "en"


def test_content_is_sanitized_again_when_published() -> None:
    """A row written around ingest (an old release, a hand edit) still publishes no script."""
    hostile = article(
        content_html=(
            '<p onclick="alert(0)">Testo</p><script>alert(1)</script>'
            '<a href="javascript:alert(2)">link</a><blockquote cite="javascript:alert(3)">c</blockquote>'
            '<img src="data:image/svg+xml,<svg onload=alert(4)>"><iframe src="https://x.test"></iframe>'
        )
    )
    rendered = render_xml(SITE, ROOT, [hostile])
    payload = render_json(SITE, ROOT, [hostile]).decode()
    for document in (rendered.rss.decode(), rendered.atom.decode(), payload):
        lowered = html.unescape(html.unescape(document)).lower()
        for bad in ("<script", "javascript:", "onclick", "data:image", "<iframe", "alert("):
            assert bad not in lowered, (bad, document)
    assert "Testo" in rendered.rss.decode()


def test_srcset_survives_publishing_but_not_with_a_script_url() -> None:
    kept = article(content_html='<img src="a.jpg" srcset="a-2x.jpg 2x, https://x.test/b.jpg 800w">')
    dropped = article(2, content_html='<img src="a.jpg" srcset="javascript:alert(1) 2x">')
    rendered = render_xml(SITE, ROOT, [kept, dropped]).atom.decode()
    assert "a-2x.jpg 2x" in html.unescape(rendered)
    assert "javascript" not in html.unescape(rendered)


# -- trap 10: empty content still makes an element ---------------------------------------


@pytest.mark.parametrize(
    "content_html",
    [
        "",
        "  \n ",
        "<p> </p>",
        "<script>alert('x')</script>",  # sanitized away when published
        '<div><iframe src="https://video.example.it/x"></iframe></div>',
    ],
)
def test_blank_content_gets_no_content_element(content_html: str) -> None:
    item = article(content_html=content_html, content_text="", summary="Il sommario.")
    rendered = render_xml(SITE, ROOT, [item])
    atom = etree.fromstring(rendered.atom)
    assert nodes(atom, "a:entry/a:content") == []
    assert nodes(atom, "a:entry/a:summary/text()") == ["Il sommario."]
    rss = rss_tree(rendered.rss)
    assert nodes(rss, "channel/item/content:encoded") == []
    assert nodes(rss, "channel/item/description/text()") == ["Il sommario."]
    [entry] = json.loads(render_json(SITE, ROOT, [item]))["items"]
    assert "content_html" not in entry
    assert entry["content_text"] == "Il sommario."  # JSON Feed needs one of the two


def test_an_article_that_is_only_a_title_has_its_title_as_summary() -> None:
    # An Atom entry without content needs a summary with text (RFC 4287 advises it; the
    # W3C validator warns "Missing textual content").
    item = article(content_html="", content_text="", summary="")
    rendered = render_xml(SITE, ROOT, [item])
    atom = etree.fromstring(rendered.atom)
    assert nodes(atom, "a:entry/a:content") == []
    assert nodes(atom, "a:entry/a:summary/text()") == [item.title]
    assert nodes(rss_tree(rendered.rss), "channel/item/description/text()") == [item.title]


@pytest.mark.parametrize(
    "content_html",
    [
        "<p>Testo.</p>",
        "Testo senza paragrafi",
        '<p><img src="https://x.example.it/a.jpg" alt=""></p>',
        "<figure><picture><img src='https://x.example.it/b.png'></picture></figure>",
    ],
)
def test_content_that_shows_something_is_kept(content_html: str) -> None:
    item = article(content_html=content_html)
    rendered = render_xml(SITE, ROOT, [item])
    assert len(nodes(etree.fromstring(rendered.atom), "a:entry/a:content")) == 1
    assert len(nodes(rss_tree(rendered.rss), "channel/item/content:encoded")) == 1
    [entry] = json.loads(render_json(SITE, ROOT, [item]))["items"]
    assert entry["content_html"]
