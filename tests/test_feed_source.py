"""Feed sources end to end over real loopback HTTP into real stores: the fixtures in the
shapes Italian publishers use, conditional GET, encodings, identity and edits."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from db import models
from db.records import SourceSpec, StoredArticle
from db.store import Store
from ingest import feed
from ingest.feed import FeedLimits
from ingest.feed_entries import Reading
from ingest.fetch import Fetcher
from ingest.pipeline import IngestReport
from ingest.remote import RemoteOptions, ingest_remote_source
from tests.remote_helpers import ConditionalFeed, feed_bytes, policy, rss

ROME = ZoneInfo("Europe/Rome")
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


DEFAULT_OPTIONS = RemoteOptions()


def ingest(
    store: Store,
    url: str,
    *,
    name: str = "Fonte di prova",
    now: datetime = T0,
    category: str | None = None,
    options: RemoteOptions = DEFAULT_OPTIONS,
) -> IngestReport:
    spec = SourceSpec(name=name, kind="feed", location=url, category=category, interval_seconds=600)
    with Fetcher(policy()) as fetcher:
        return ingest_remote_source(store, spec, fetcher, options=options, now=now)


def stored(store: Store) -> list[StoredArticle]:
    return store.latest_articles(100)


def by_title(store: Store) -> dict[str, StoredArticle]:
    return {a.title: a for a in stored(store)}


def rome(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ROME)


@dataclass(frozen=True)
class Expect:
    fixture: str
    content_type: str
    count: int
    title: str
    published: datetime
    url: str
    text: str
    image: str | None = None
    authors: tuple[str, ...] = ()


FIXTURES = [
    Expect(
        "wordpress.xml",
        "application/rss+xml; charset=UTF-8",
        2,
        "Il mercato coperto riapre dopo sei mesi di lavori",
        rome("2026-03-05 09:30"),
        "https://www.gazzettadelborgo.it/2026/03/05/mercato-coperto-riapre/",
        "il tetto non lascia più passare l'acqua",
        "https://www.gazzettadelborgo.it/wp-content/uploads/2026/03/mercato.jpg",
        ("Giulia Ferraresi",),
    ),
    Expect(
        "agenzia-iso-8859-1.xml",
        "text/xml; charset=ISO-8859-1",
        2,
        "Perché la città è più cara: l'indagine",
        rome("2026-03-16 09:40"),
        "https://www.agenziaitalica.it/notizie/ai-20260316-002",
        '"è colpa della scarsità di case"',
    ),
    Expect(
        "atom-xmlbase.xml",
        "application/atom+xml",
        2,
        "Traghetti, da lunedì corse ogni mezz'ora",
        rome("2026-07-14 16:05"),
        "https://www.cronacadellago.it/notizie/2026/07/traghetti-corse.html",
        "un traghetto partirà ogni trenta minuti",
        "https://www.cronacadellago.it/notizie/2026/07/img/traghetto.jpg",
        ("Elena Marchetti",),
    ),
    Expect(
        "jsonfeed-11.json",
        "application/feed+json",
        2,
        "Il caseificio sociale premiato a Parma",
        rome("2026-10-20 11:00"),
        "https://quotidianopianura.it/economia/caseificio-premiato",
        "medaglia d'oro al concorso nazionale",
        "http://{host}/media/caseificio-grande.jpg",
        ("Chiara Benassi",),
    ),
    Expect(
        "jsonfeed-10.json",
        "application/json",
        1,
        "È arrivata la prima neve",
        rome("2026-11-02 07:15"),
        "https://rifugiolaghetto.it/diario/prima-neve",
        "quindici centimetri al rifugio",
        None,
        ("Luca Dal Molin",),
    ),
    Expect(
        "rdf-10.xml",
        "application/rdf+xml",
        2,
        "Borse di studio, il bando scade il 30 aprile",
        rome("2026-04-02 10:00"),
        "https://www.ateneoveneto-notizie.it/comunicati/borse-2026",
        "Quattrocento borse per gli studenti fuori sede",
        None,
        ("Ufficio stampa",),
    ),
    Expect(
        "media-images.xml",
        "application/rss+xml",
        3,
        "Frana sulla provinciale, strada chiusa per due giorni",
        rome("2026-02-09 07:20"),
        "https://www.corrierevalli.it/cronaca/frana-provinciale",
        "stabilità del versante",
        "https://img.corrierevalli.it/2026/02/frana.jpg",
    ),
    Expect(
        "no-guids.xml",
        "application/rss+xml",
        2,
        "Lampioni nuovi in via dei Tigli",
        rome("2026-03-10 19:00"),
        "https://vocedelquartiere.it/notizie/lampioni-via-dei-tigli",
        "luci a led",
    ),
    Expect(
        "duplicate-guids.xml",
        "application/rss+xml",
        3,
        "Concerto gratuito in piazza per la festa patronale",
        rome("2026-03-13 12:00"),
        "https://radiocolline.it/gr/concerto-patronale",
        "un coro di bambini",
    ),
    Expect(
        "bozo.xml",
        "application/rss+xml",
        2,
        "Scuole & palestre: lavori finiti in anticipo",
        rome("2026-03-18 09:00"),
        "https://fogliodiprovincia.it/scuole-palestre",
        "due settimane prima del previsto",
    ),
    Expect(
        "rss-091-naive-dates.xml",
        "text/xml",
        2,
        "Assemblea dei soci rinviata",
        rome("2026-05-11 09:00"),
        "http://{host}/avvisi/assemblea-rinviata",
        "La nuova data sarà comunicata",
    ),
    Expect(
        "utf8-declared-latin1.xml",
        "text/xml; charset=ISO-8859-1",
        2,
        "Sciopero dei treni, venerdì possibili disagi",
        rome("2026-03-16 10:15"),
        "https://www.agenziaitalica.it/notizie/ai-20260316-001",
        'le fasce "pendolari". Il biglietto costa 4,50 € già così.',
    ),
    Expect(
        "cp1252-declared-utf8.xml",
        "text/xml; charset=utf-8",
        2,
        "Sciopero dei treni, venerdì possibili disagi",
        rome("2026-03-16 10:15"),
        "https://www.agenziaitalica.it/notizie/ai-20260316-001",
        "Lo sciopero durerà dalle 21 di giovedì alle 21 di venerdì",
    ),
    Expect(
        "double-encoded.xml",
        "application/rss+xml; charset=utf-8",
        2,
        "Perché la città è più cara: l'indagine",
        rome("2026-03-16 09:40"),
        "https://www.agenziaitalica.it/notizie/ai-20260316-002",
        "Affitti più alti del 12% in un anno",
    ),
]


@pytest.mark.parametrize("case", FIXTURES, ids=[c.fixture for c in FIXTURES])
def test_fixture_feeds_ingest_with_correct_text_dates_and_urls(
    httpserver: HTTPServer, store: Store, case: Expect
) -> None:
    path = "/" + case.fixture
    httpserver.expect_request(path).respond_with_data(
        feed_bytes(case.fixture), content_type=case.content_type
    )
    report = ingest(store, httpserver.url_for(path))
    assert report.error is None and not report.problems, report
    assert report.new == case.count
    articles = by_title(store)
    assert case.title in articles, sorted(articles)
    article = articles[case.title]
    host = f"{httpserver.host}:{httpserver.port}"
    assert article.published == case.published
    assert article.published.astimezone(ROME).utcoffset() == case.published.utcoffset()
    assert article.url == case.url.format(host=host)
    assert case.text in article.content_text, article.content_text
    assert article.image_url == (case.image.format(host=host) if case.image else None)
    if case.authors:
        assert article.authors == case.authors
    for each in articles.values():
        # No mojibake survives anywhere, and HTML has absolute URLs only.
        assert "Ã" not in each.content_text + each.title and "â€" not in each.content_text
        assert 'src="/' not in each.content_html and 'href="/' not in each.content_html


def test_wordpress_content_is_cleaned(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/feed/").respond_with_data(
        feed_bytes("wordpress.xml"), content_type="application/rss+xml"
    )
    ingest(store, httpserver.url_for("/feed/"), category="Cronaca locale")
    article = by_title(store)["Il mercato coperto riapre dopo sei mesi di lavori"]
    assert "pixel.wp.com" not in article.content_html  # the 1x1 tracking pixel is gone
    assert "utm_" not in article.content_html  # tracking parameters removed from links
    assert 'href="https://www.gazzettadelborgo.it/orari-mercato/"' in article.content_html
    assert article.summary.startswith("Banchi nuovi, tetto rifatto")
    assert {t.name for t in article.tags} >= {"Cronaca"}
    assert article.category is not None and article.category.name == "Cronaca locale"


@pytest.mark.parametrize(
    ("etag", "last_modified"),
    [
        ('"v1-abc"', "Thu, 05 Mar 2026 10:02:11 GMT"),
        ('W/"solo-etag"', None),
        (None, "Thu, 05 Mar 2026 10:02:11 GMT"),
    ],
    ids=["both", "etag-only", "last-modified-only"],
)
def test_48_polls_of_an_unchanged_feed_download_it_once(
    httpserver: HTTPServer, any_store: Store, etag: str | None, last_modified: str | None
) -> None:
    feed = ConditionalFeed(feed_bytes("media-images.xml"), etag=etag, last_modified=last_modified)
    httpserver.expect_request("/feed.xml").respond_with_handler(feed)
    url = httpserver.url_for("/feed.xml")
    for poll in range(48):
        report = ingest(any_store, url, now=T0 + timedelta(minutes=30 * poll))
        assert report.error is None
    assert (feed.full, feed.not_modified) == (1, 47)
    assert any_store.article_count() == 3
    # The validators went back exactly as the server sent them.
    last = feed.requests[-1]
    assert last.get("If-None-Match") == etag
    assert last.get("If-Modified-Since") == last_modified


def test_a_304_keeps_the_schedule_and_a_new_document_is_downloaded(
    httpserver: HTTPServer, store: Store
) -> None:
    feed = ConditionalFeed(feed_bytes("no-guids.xml"))
    httpserver.expect_request("/f").respond_with_handler(feed)
    url = httpserver.url_for("/f")
    ingest(store, url)
    feed.body = feed_bytes("duplicate-guids.xml")
    feed.etag = '"v2"'
    report = ingest(store, url, now=T0 + timedelta(hours=1))
    assert report.new == 3 and feed.full == 2
    assert store.article_count() == 5  # entries that left the feed are kept


def test_bozo_feed_is_ingested_and_flagged(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/f").respond_with_data(feed_bytes("bozo.xml"))
    report = ingest(store, httpserver.url_for("/f"))
    assert report.error is None and report.new == 2
    state = next(s for s in store.source_states() if s.name == "Fonte di prova")
    assert state.bozo is not None and "not well-formed" in state.bozo
    # A clean document later clears the flag.
    httpserver.clear()
    httpserver.expect_request("/f").respond_with_data(feed_bytes("no-guids.xml"))
    ingest(store, httpserver.url_for("/f"), now=T0 + timedelta(hours=1))
    state = next(s for s in store.source_states() if s.name == "Fonte di prova")
    assert state.bozo is None


def test_not_a_feed_is_one_clear_error(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/f").respond_with_data("ciao", content_type="text/plain")
    report = ingest(store, httpserver.url_for("/f"), name="Ansa Cronaca")
    assert report.error == (
        f'source "Ansa Cronaca": {httpserver.url_for("/f")}: not an RSS, Atom or JSON feed'
        ": document declared as us-ascii, but parsed as utf-8"
    ) or (report.error or "").startswith(
        f'source "Ansa Cronaca": {httpserver.url_for("/f")}: not an RSS, Atom or JSON feed'
    )


def test_undeclared_cp1252_is_detected(httpserver: HTTPServer, store: Store) -> None:
    body = feed_bytes("agenzia-iso-8859-1.xml").replace(b' encoding="ISO-8859-1"', b"")
    httpserver.expect_request("/f").respond_with_data(body, content_type="text/xml")
    ingest(store, httpserver.url_for("/f"))
    article = by_title(store)["Sciopero dei treni, venerdì possibili disagi"]
    assert '"pendolari". Il biglietto costa 4,50 € già così.' in article.content_text


# -- identity ------------------------------------------------------------------------------


def item(
    title: str,
    link: str,
    *,
    guid: str | None = None,
    date: str = "Fri, 20 Mar 2026 10:00:00 +0100",
    body: str = "Il testo della notizia.",
    updated: str | None = None,
) -> str:
    parts = [
        f"<title>{title}</title>",
        f"<link>{link}</link>",
        f"<description>{body}</description>",
    ]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    if updated:
        parts.append(
            f'<atom:updated xmlns:atom="http://www.w3.org/2005/Atom">{updated}</atom:updated>'
        )
    return "<item>" + "".join(parts) + "</item>"


class Upstream:
    """A feed whose document the test changes between polls."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.body = b""
        httpserver.expect_request("/feed").respond_with_handler(self)
        self.url = httpserver.url_for("/feed")

    def __call__(self, _: Request) -> Response:
        return Response(self.body, content_type="application/rss+xml")


def test_changing_guids_keep_the_article_by_its_link(
    httpserver: HTTPServer, any_store: Store
) -> None:
    upstream = Upstream(httpserver)
    upstream.body = rss(
        item("Piazza chiusa per il mercato", "https://prova.example/piazza", guid="?p=10")
    )
    ingest(any_store, upstream.url)
    first = stored(any_store)[0]
    upstream.body = rss(
        item("Piazza chiusa per il mercato", "https://prova.example/piazza", guid="piazza-10")
    )
    report = ingest(any_store, upstream.url, now=T0 + timedelta(hours=1))
    assert report.new == 0
    assert any_store.article_count() == 1
    assert stored(any_store)[0].uid == first.uid


def test_duplicate_and_blank_guids_switch_the_document_to_links(
    httpserver: HTTPServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    upstream = Upstream(httpserver)
    upstream.body = feed_bytes("duplicate-guids.xml")
    report = ingest(store, upstream.url)
    assert report.new == 3
    assert "guids are blank or repeated" in caplog.text
    assert {a.guid for a in stored(store)} == {
        "https://radiocolline.it/gr/galleria-san-rocco",
        "https://radiocolline.it/gr/concerto-patronale",
        "https://radiocolline.it/gr/rifiuti-calendario",
    }


def test_no_guids_use_the_canonical_link(httpserver: HTTPServer, store: Store) -> None:
    upstream = Upstream(httpserver)
    upstream.body = rss(
        item("Nuova pista ciclabile", "https://PROVA.example/pista?utm_source=x#top")
    )
    ingest(store, upstream.url)
    upstream.body = rss(item("Nuova pista ciclabile", "https://prova.example/pista?fbclid=abc"))
    report = ingest(store, upstream.url, now=T0 + timedelta(hours=1))
    assert (report.new, report.same) == (0, 1)
    assert [a.guid for a in stored(store)] == ["https://prova.example/pista"]


def test_no_guid_and_no_link_use_a_content_hash(httpserver: HTTPServer, store: Store) -> None:
    upstream = Upstream(httpserver)
    upstream.body = rss(item("Avviso senza collegamento", ""), item("Secondo avviso", ""))
    ingest(store, upstream.url)
    report = ingest(store, upstream.url, now=T0 + timedelta(hours=1))
    assert (report.new, report.same) == (0, 2)
    assert all(a.guid.startswith("sha256:") for a in stored(store))


def test_an_edited_entry_updates_the_same_article(httpserver: HTTPServer, any_store: Store) -> None:
    upstream = Upstream(httpserver)
    upstream.body = rss(
        item(
            "Chiude il ponte vecchio",
            "https://prova.example/ponte",
            guid="n-1",
            date="Fri, 20 Mar 2026 10:00:00 +0100",
        )
    )
    ingest(any_store, upstream.url)
    before = stored(any_store)[0]
    upstream.body = rss(
        item(
            "Chiude il ponte vecchio per tre settimane",
            "https://prova.example/ponte",
            guid="n-1",
            date="Fri, 20 Mar 2026 10:00:00 +0100",
            body="Il testo corretto della notizia.",
            updated="2026-03-20T15:45:00+01:00",
        )
    )
    report = ingest(any_store, upstream.url, now=T0 + timedelta(hours=1))
    assert (report.new, report.changed) == (0, 1)
    after = stored(any_store)[0]
    assert after.uid == before.uid
    assert after.title == "Chiude il ponte vecchio per tre settimane"
    assert after.published == before.published == rome("2026-03-20 10:00")
    assert after.updated == rome("2026-03-20 15:45")
    # The publisher moving its pubDate never rewrites the published date either.
    upstream.body = rss(
        item(
            "Chiude il ponte vecchio per tre settimane",
            "https://prova.example/ponte",
            guid="n-1",
            date="Sat, 21 Mar 2026 08:00:00 +0100",
            body="Il testo corretto della notizia.",
        )
    )
    ingest(any_store, upstream.url, now=T0 + timedelta(hours=2))
    assert stored(any_store)[0].published == before.published


def test_undated_entries_keep_their_first_seen_date(httpserver: HTTPServer, store: Store) -> None:
    upstream = Upstream(httpserver)
    upstream.body = rss(
        item("Avviso senza data", "https://prova.example/avviso", guid="a", date="")
    )
    ingest(store, upstream.url, now=T0)
    report = ingest(store, upstream.url, now=T0 + timedelta(days=1))
    assert (report.new, report.changed, report.same) == (0, 0, 1)
    assert stored(store)[0].published == T0


@pytest.fixture(params=["sqlite", "postgresql"])
def either_store(request: pytest.FixtureRequest) -> Store:
    opened = request.getfixturevalue("store" if request.param == "sqlite" else "pg_store")
    assert isinstance(opened, Store)
    return opened


def test_last_seen_at_moves_only_for_listed_entries(
    httpserver: HTTPServer, either_store: Store
) -> None:
    store = either_store
    upstream = Upstream(httpserver)
    upstream.body = rss(
        item("Primo", "https://prova.example/1", guid="1"),
        item("Secondo", "https://prova.example/2", guid="2"),
        item("Terzo", "https://prova.example/3", guid="3"),
    )
    ingest(store, upstream.url, now=T0)
    # Listed again: one untouched, one edited, one new (each is written another way).
    upstream.body = rss(
        item("Primo", "https://prova.example/1", guid="1"),
        item("Terzo, corretto", "https://prova.example/3", guid="3"),
        item("Quarto", "https://prova.example/4", guid="4"),
    )
    later = T0 + timedelta(hours=5)
    ingest(store, upstream.url, now=later)
    with store.engine.connect() as connection:
        seen = {
            guid: when and (when if when.tzinfo else when.replace(tzinfo=UTC))  # SQLite: naive
            for guid, when in connection.execute(
                select(models.Article.guid, models.Article.last_seen_at)
            )
        }
        titles = set(connection.execute(select(models.Article.title)).scalars())
    assert seen == {"1": later, "2": T0, "3": later, "4": later}
    assert "Terzo, corretto" in titles
    assert store.article_count() == 4


def test_one_bad_entry_never_stops_the_others(httpserver: HTTPServer, store: Store) -> None:
    upstream = Upstream(httpserver)
    upstream.body = rss(
        # A title that is only a tag once unescaped: nothing is left of it, and an entry
        # that has a title is never given another one.
        item("&amp;lt;br&amp;gt;", "https://prova.example/vuoto", guid="vuoto"),
        item("Una notizia buona", "https://prova.example/buona", guid="buona"),
    )
    report = ingest(store, upstream.url)
    assert report.new == 1
    assert [p.reason for p in report.problems] == ["its title is empty once cleaned"]


def test_the_same_story_from_two_sources_is_stored_once(
    httpserver: HTTPServer, any_store: Store
) -> None:
    upstream = Upstream(httpserver)
    upstream.body = rss(
        item(
            "Il treno regionale torna a fermarsi a Borgo",
            "https://notizie.example/treno?utm_source=a",
            guid="a-1",
        )
    )
    httpserver.expect_request("/altra").respond_with_data(
        rss(
            item(
                "Il treno regionale torna a fermarsi a Borgo",
                "https://notizie.example/treno",
                guid="b-77",
            ),
            item("Titolo uguale, ore dopo", "https://altro.example/x", guid="b-78"),
        ),
        content_type="application/rss+xml",
    )
    ingest(any_store, upstream.url, name="Prima fonte")
    report = ingest(any_store, httpserver.url_for("/altra"), name="Seconda fonte")
    assert (report.new, report.same) == (1, 1)
    articles = by_title(any_store)
    assert len(articles) == 2
    shared = articles["Il treno regionale torna a fermarsi a Borgo"]
    assert any_store.article_sources(shared.id) == ["Prima fonte", "Seconda fonte"]
    # Polling the second source again does not store it after all.
    again = ingest(
        any_store, httpserver.url_for("/altra"), name="Seconda fonte", now=T0 + timedelta(hours=1)
    )
    assert again.new == 0 and any_store.article_count() == 2


# -- big feeds, read in chunks of items -------------------------------------------------------

FEEDS = Path(__file__).resolve().parent / "data" / "feeds"


def _big_rss(items: int) -> bytes:
    """An RSS document with namespaces, a channel language and Italian text."""
    entries = "".join(
        f"<item><title>Notizia {n}: perché la città cambia</title>"
        f"<link>https://esempio.it/notizie/{n}?utm_source=rss</link>"
        f"<guid isPermaLink='false'>id-{n}</guid>"
        f"<dc:creator>Anna Rossi</dc:creator><category>Cronaca</category>"
        f"<pubDate>Sun, 02 Jun 2024 {n % 24:02d}:00:00 +0200</pubDate>"
        f"<content:encoded><![CDATA[<p>Il sindaco è intervenuto {n} volte.</p>]]>"
        f"</content:encoded></item>"
        for n in range(items)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        "<channel><title>Grande</title><link>https://esempio.it/</link>"
        "<language>it</language><sy:updatePeriod>hourly</sy:updatePeriod>"
        f"{entries}</channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    "name", [*sorted(p.name for p in FEEDS.glob("*.xml")), "big-rss", "big-atom"]
)
def test_chunked_parse_reads_exactly_like_a_whole_parse(name: str) -> None:
    """Every feed of the test data (and two generated ones) parsed in chunks of 2 items
    gives the same entries, title, interval, identity and flags as one whole parse; the
    documents chunking cannot read exactly (DOCTYPE, xml:base, RDF, broken XML) are read
    whole."""
    if name == "big-rss":
        data = _big_rss(25)
    elif name == "big-atom":
        data = (FEEDS / "atom-xmlbase.xml").read_bytes().replace(b"xml:base", b"xml:lang")
    else:
        data = (FEEDS / name).read_bytes()
    now = datetime(2024, 6, 2, 12, tzinfo=UTC)
    whole = feed.parse_feed(data, url="https://esempio.it/feed.xml", now=now)
    pieces = FeedLimits(stream_min_bytes=0, chunk_items=2)
    chunked = feed.parse_feed(data, url="https://esempio.it/feed.xml", now=now, limits=pieces)
    assert chunked == whole
    assert len(whole.entries) >= 2


def test_chunking_refuses_what_it_cannot_read_exactly() -> None:
    now = datetime(2024, 6, 2, 12, tzinfo=UTC)

    def streamed(xml: bytes) -> bool:
        found = feed.stream_xml_feed(xml, Reading("https://esempio.it/f", now, "UTC"))
        return found is not None

    assert streamed(_big_rss(3))
    # Entities are never expanded: a DOCTYPE sends the document to feedparser whole.
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<rss><channel><item><title>&b;</title></item></channel></rss>"
    )
    assert not streamed(bomb)
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<rss><channel><item><title>&x;</title></item></channel></rss>"
    )
    assert not streamed(xxe)
    assert not streamed(_big_rss(3).replace(b"<channel>", b'<channel xml:base="/x/">'))
    assert not streamed(_big_rss(3)[:-20])  # not well-formed
    # A character reference XML forbids is not well-formed either: the whole parse, which
    # repairs it, reads that document.
    assert not streamed(_big_rss(3).replace(b"Notizia 1:", b"Notizia &#xD800;:"))
    assert not streamed((FEEDS / "rdf-10.xml").read_bytes())


def test_big_feed_is_stored_in_batches(store: Store, tmp_path: Path) -> None:
    """A feed parsed in chunks and stored in batches stores every entry once, and a
    second ingest of the edited file finds them all again."""
    options = RemoteOptions(limits=FeedLimits(stream_min_bytes=0, chunk_items=7), batch_size=10)
    path = tmp_path / "grande.xml"
    path.write_bytes(_big_rss(45))
    spec = SourceSpec(name="Grande", kind="feed", location=str(path))
    with Fetcher(policy()) as fetcher:
        first = ingest_remote_source(store, spec, fetcher, options=options, now=T0)
        assert (first.new, first.error, first.problems) == (45, None, [])
        path.write_bytes(_big_rss(46))
        later = T0 + timedelta(hours=1)
        second = ingest_remote_source(store, spec, fetcher, options=options, now=later)
    assert (second.new, second.same) == (1, 45)
    assert store.article_count() == 46


# -- the cap on entries per fetch -------------------------------------------------------------


@pytest.mark.parametrize("route", ["whole", "chunked"])
def test_entries_past_the_cap_are_dropped_and_counted(route: str) -> None:
    """The first entries in document order are read, the rest only counted, whichever
    route the document takes."""
    limits = FeedLimits(max_entries=5)
    if route == "chunked":
        limits = FeedLimits(max_entries=5, stream_min_bytes=0, chunk_items=2)
    now = datetime(2024, 6, 2, 12, tzinfo=UTC)
    parsed = feed.parse_feed(
        _big_rss(12), url="https://esempio.it/feed.xml", now=now, limits=limits
    )
    assert [e.guid for e in parsed.entries] == [f"id-{n}" for n in range(5)]
    assert parsed.dropped == 7
    assert parsed.title == "Grande" and parsed.min_interval == 3600


def test_the_streaming_route_never_hands_dropped_items_to_feedparser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    real = feed.feedparser_parse

    def counting(xml: bytes) -> object:
        seen.append(xml.count(b"<item>"))
        return real(xml)

    monkeypatch.setattr(feed, "feedparser_parse", counting)
    # Small in bytes but with more items than the cap: streamed all the same.
    limits = FeedLimits(max_entries=5, chunk_items=2)
    parsed = feed.parse_feed(
        _big_rss(300), url="https://esempio.it/feed.xml", now=T0, limits=limits
    )
    assert len(parsed.entries) == 5 and parsed.dropped == 295
    assert sum(seen) == 5


def test_a_json_feed_is_capped_too() -> None:
    items = [{"id": f"j{n}", "title": f"Voce {n}", "content_text": "Testo."} for n in range(8)]
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}
    data = json.dumps(document).encode()
    parsed = feed.parse_feed(
        data, url="https://esempio.it/feed.json", now=T0, limits=FeedLimits(max_entries=3)
    )
    assert [e.guid for e in parsed.entries] == ["j0", "j1", "j2"]
    assert parsed.dropped == 5


def test_a_capped_fetch_is_logged_once_with_the_source_name(
    httpserver: HTTPServer,
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    httpserver.expect_request("/tanti").respond_with_data(
        _big_rss(10), content_type="application/rss+xml"
    )
    with caplog.at_level(logging.WARNING, logger="rassegna.ingest"):
        report = ingest(
            store,
            httpserver.url_for("/tanti"),
            name="Fonte prolissa",
            options=RemoteOptions(limits=FeedLimits(max_entries=4)),
        )
    assert (report.new, report.error) == (4, None)
    lines = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(lines) == 1
    assert '"Fonte prolissa"' in lines[0] and " 6 entries" in lines[0]


# -- implausible dates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date",
    [
        "Fri, 01 Jan 9999 10:00:00 +0000",
        "Mon, 01 Jan 1800 10:00:00 +0000",
        "0000-00-00",
    ],
)
def test_an_entry_with_an_implausible_date_is_undated(date: str) -> None:
    data = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>'
        f"<item><title>Strana</title><guid>s1</guid><pubDate>{date}</pubDate></item>"
        "<item><title>Buona</title><guid>b1</guid>"
        "<pubDate>Mon, 02 Nov 2026 10:00:00 +0100</pubDate></item>"
        "</channel></rss>"
    ).encode()
    parsed = feed.parse_feed(data, url="https://esempio.it/feed.xml", now=T0)
    entries = {e.guid: e for e in parsed.entries}
    assert entries["s1"].published is None and entries["s1"].updated is None
    assert entries["b1"].published == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert parsed.undated == {"s1"}


def test_an_implausible_date_falls_back_to_the_other_date_field() -> None:
    """An entry whose publication date is absurd but whose update date is sound is dated
    by the update, as an entry with only an update date is."""
    data = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>'
        b"<entry><id>a1</id><title>Voce</title><published>9999-01-01T00:00:00Z</published>"
        b"<updated>2026-11-02T10:00:00Z</updated></entry></feed>"
    )
    parsed = feed.parse_feed(data, url="https://esempio.it/atom.xml", now=T0)
    assert parsed.entries[0].published == datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    assert parsed.undated == set()
