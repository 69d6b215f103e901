"""Entries without a title: Mastodon-shaped RSS, an Atom entry with only content and a
JSON Feed item with only content_text are taken in over loopback HTTP, titled from their
text; identity without guid or link; the title derivation as a property."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from db.records import SourceSpec
from db.store import Store
from ingest.feed import parse_feed
from ingest.fetch import Fetcher
from ingest.pipeline import IngestReport
from ingest.remote import RemoteOptions, ingest_remote_source
from ingest.untitled import (
    MAX_TITLE_CHARS,
    cut_words,
    first_sentence,
    title_from_html,
    title_from_link,
    title_from_text,
)
from tests.remote_helpers import feed_bytes, policy, rss

T0 = datetime(2026, 11, 4, 8, 0, tzinfo=UTC)


def ingest(store: Store, httpserver: HTTPServer, name: str, content_type: str) -> IngestReport:
    httpserver.expect_request(f"/{name}").respond_with_data(
        feed_bytes(name), content_type=content_type
    )
    spec = SourceSpec(
        name="Senza titoli", kind="feed", location=httpserver.url_for(f"/{name}"), category=None
    )
    with Fetcher(policy()) as fetcher:
        return ingest_remote_source(store, spec, fetcher, options=RemoteOptions(), now=T0)


def test_mastodon_items_are_titled_from_their_text(httpserver: HTTPServer, store: Store) -> None:
    report = ingest(store, httpserver, "mastodon.rss", "application/rss+xml; charset=utf-8")
    assert report.error is None
    assert report.new == 3
    # The item with no title, no text and no link is skipped and counted.
    assert [p.reason for p in report.problems] == ["an entry has no title, no text and no link"]
    articles = {a.guid.rsplit("/", 1)[-1]: a for a in store.latest_articles(10)}
    library = articles["113456789012345678"]
    assert library.title == (
        "Da lunedì 9 novembre la biblioteca apre anche il sabato pomeriggio, dalle 15 alle 19"
    )
    assert library.image_url is not None and library.image_url.endswith("/sala.jpg")
    assert "sala studio" in library.content_text  # the text itself is kept whole
    wind = articles["113456700000000001"]
    # The mention keeps its user, loses its server; the sentence is cut on a word.
    assert wind.title.startswith("@protezionecivile segnala allerta gialla per vento forte")
    assert "@social" not in wind.title and wind.title.endswith("…")
    assert len(wind.title) <= MAX_TITLE_CHARS
    market = articles["113456600000000002"]
    # A paragraph that is only a link gives no title: the next one does.
    assert market.title == (
        "Il mercato settimanale si sposta in piazza Garibaldi per i lavori alla pavimentazione"
    )
    assert market.image_url is not None and market.image_url.endswith("/piazza.png")


def test_atom_entry_with_only_content(httpserver: HTTPServer, store: Store) -> None:
    report = ingest(store, httpserver, "atom-untitled.xml", "application/atom+xml")
    assert report.error is None and report.new == 2 and not report.problems
    article = next(a for a in store.latest_articles(10) if a.guid.endswith("4a11"))
    assert article.title == (
        "Il Prefetto ha convocato per giovedì il comitato per l'ordine e la sicurezza pubblica"
    ) or article.title == (
        "Il Prefetto ha convocato per giovedì il comitato per l’ordine e la sicurezza pubblica"
    )
    assert article.guid == "urn:uuid:6a3f1c2e-0d1b-4c55-9a51-2f0e7e1b4a11"


def test_json_feed_items_with_only_content_text(httpserver: HTTPServer, store: Store) -> None:
    report = ingest(store, httpserver, "jsonfeed-untitled.json", "application/feed+json")
    assert report.error is None and report.new == 2 and not report.problems
    titles = {a.title for a in store.latest_articles(10)}
    assert "Sabato la castagnata in piazza è rinviata per pioggia a domenica 15 novembre" in titles
    course = next(t for t in titles if t.startswith("Aperte le iscrizioni"))
    assert course.endswith("…") and len(course) <= MAX_TITLE_CHARS
    # The same feed again is the same articles: the identity of an item without guid and
    # link (its text and date) does not move.
    again = ingest(store, httpserver, "jsonfeed-untitled.json", "application/feed+json")
    assert again.new == 0 and store.article_count() == 2


def test_identity_without_guid_or_link_is_text_and_date() -> None:
    def guids(*items: str) -> list[str]:
        return [e.guid for e in parse_feed(rss(*items), url="https://p.example/f").entries]

    one = "<item><description>Lo stesso testo.</description><pubDate>{}</pubDate></item>"
    monday = "Mon, 02 Nov 2026 10:00:00 +0100"
    tuesday = "Tue, 03 Nov 2026 10:00:00 +0100"
    first = guids(one.format(monday), one.format(tuesday))
    assert len(set(first)) == 2  # same text, another day: another entry
    assert all(g.startswith("sha256:") for g in first)
    # Markup and spacing do not change the identity; the text does.
    marked = "<item><description>&lt;p&gt;Lo  stesso &lt;b&gt;testo&lt;/b&gt;.&lt;/p&gt;"
    assert guids(marked + f"</description><pubDate>{monday}</pubDate></item>")[0] == first[0]
    other = "<item><description>Un altro testo.</description>"
    assert guids(other + f"<pubDate>{monday}</pubDate></item>")[0] != first[0]


def test_link_only_entry_is_titled_from_the_link() -> None:
    parsed = parse_feed(
        rss("<item><link>https://p.example/2026/11/nuovo-ponte-sul-fiume.html</link></item>"),
        url="https://p.example/f",
    )
    assert [e.title for e in parsed.entries] == ["Nuovo ponte sul fiume"]
    assert title_from_link("https://p.example/") == "p.example"


def test_sentences_and_abbreviations() -> None:
    assert first_sentence("Il Sig. Rossi parla. Poi altro.") == "Il Sig. Rossi parla"
    assert first_sentence("Chi vince? Nessuno.") == "Chi vince?"
    assert first_sentence("Una frase sola.") == "Una frase sola"
    assert title_from_text("https://a.example/x\nVisita di S. Giovanni a Roma. Poi.") == (
        "Visita di S. Giovanni a Roma"
    )
    assert title_from_html("<p><a href='https://x.example'>https://x.example</a></p>") == ""
    assert cut_words("a" * 200).endswith("…") and len(cut_words("a" * 200)) == MAX_TITLE_CHARS


_WORDS = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "Zs"), exclude_characters="\x85\u2028\u2029"),
    max_size=60,
)
_PIECES = st.one_of(
    _WORDS,
    st.sampled_from(
        [
            "https://www.esempio.example/percorso?x=1",
            "www.esempio.example",
            "@utente@server.example",
            "@redazione@mastodon.uno",
            ". ",
            "! ",
            "\n",
            "<b>",
            "</b>",
        ]
    ),
)


@given(st.lists(_PIECES, max_size=12))
def test_derived_title_properties(pieces: list[str]) -> None:
    text = " ".join(pieces)
    title = title_from_text(text)
    assert len(title) <= MAX_TITLE_CHARS
    assert "\n" not in title
    assert "https://" not in title and "www." not in title
    assert not re.search(r"@[\w.-]+@[\w-]+\.", title)
    assert title == title.strip()
    if title:
        assert any(ch.isalnum() for ch in title)
        # The title's words are the text's own words, in order.
        core = title.removesuffix("…").split()
        flat = " ".join(text.split())
        assert core[0].rstrip(".!?") in flat


@given(st.text(max_size=400))
def test_title_from_any_html_never_raises(markup: str) -> None:
    title = title_from_html(markup)
    assert len(title) <= MAX_TITLE_CHARS


def test_json_fixture_has_no_titles() -> None:
    document = json.loads(feed_bytes("jsonfeed-untitled.json"))
    assert all("title" not in item for item in document["items"])
