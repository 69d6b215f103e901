"""Cross-source duplicates (same story by title and lead through two feed servers), how the
published feeds show them, and hash-only churn and the edit cap of remote articles."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from db.dedup import lead_similarity, normalized_title, title_key
from db.records import ArticleDraft, SourceSpec
from db.store import Store
from db.upsert_plan import EditCap
from feeds.build import build_feeds
from feeds.site import SiteInfo
from ingest.fetch import Fetcher
from ingest.pipeline import IngestReport
from ingest.remote import RemoteOptions, ingest_remote_source
from tests import factories
from tests.factories import stored
from tests.old_rows import insert_old_articles, old_database
from tests.remote_helpers import policy, rss

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
SITE = SiteInfo(title="Rassegna", link="https://rassegna.example.it/", base_url="http://x.test/")
ATOM = "{http://www.w3.org/2005/Atom}"

LEAD = (
    "La giunta comunale ha approvato ieri sera il nuovo piano per il trasporto pubblico, "
    "che prevede dieci corse in più sulla linea per la stazione e un biglietto unico per "
    "tutta la provincia a partire da gennaio."
)
# The same lead as another newsroom rewrote it: a few words changed.
LEAD_REWORDED = (
    "La giunta comunale ha approvato ieri il nuovo piano per il trasporto pubblico, "
    "che prevede dieci corse in più sulla linea verso la stazione e un biglietto unico per "
    "tutta la provincia a partire da gennaio."
)
OTHER_LEAD = (
    "Il sindaco ha incontrato i commercianti del centro storico per discutere delle nuove "
    "regole sui dehors e sugli orari di apertura estivi dei locali della piazza."
)


def item(
    title: str,
    link: str,
    guid: str,
    body: str,
    *,
    date: str = "Sun, 29 Nov 2026 07:00:00 +0100",
) -> str:
    return (
        f"<item><title>{escape(title)}</title><link>{link}</link>"
        f"<description>{escape(body)}</description>"
        f'<guid isPermaLink="false">{guid}</guid><pubDate>{date}</pubDate></item>'
    )


# The story as the first newsroom published it: the one the others are checked against.
GAZZETTA_PIANO = item(
    "Trasporti, la giunta approva il nuovo piano", "https://gazzetta.example/piano", "g-1", LEAD
)


def serve(server: HTTPServer, path: str, body: bytes) -> str:
    server.expect_request(path).respond_with_data(body, content_type="application/rss+xml")
    return server.url_for(path)


def ingest(store: Store, url: str, name: str, now: datetime = T0) -> IngestReport:
    spec = SourceSpec(name=name, kind="feed", location=url, interval_seconds=600)
    with Fetcher(policy()) as fetcher:
        return ingest_remote_source(store, spec, fetcher, options=RemoteOptions(), now=now)


# -- the rules, on their own ------------------------------------------------------------


def test_nearly_equal_titles_share_a_key() -> None:
    first = "Trasporti, la giunta approva il nuovo piano"
    second = "La giunta approva il nuovo piano dei trasporti - Radio Valle"
    assert title_key(first) == title_key(second) == "approva giunta nuovo piano trasporti"
    assert normalized_title("Città più VERDE | Il Post") == "citta piu verde"
    # A content word more is another title.
    assert title_key(first) != title_key("La giunta boccia il nuovo piano dei trasporti")


def test_lead_similarity_tells_a_rewording_from_another_story() -> None:
    reworded = lead_similarity(LEAD, LEAD_REWORDED)
    other = lead_similarity(LEAD, OTHER_LEAD)
    assert reworded is not None and reworded >= 0.5
    assert other is not None and other < 0.1
    # A short summary is compared on its own length against a longer lead.
    short = lead_similarity(LEAD[:120], LEAD)
    assert short is not None and short > 0.9
    assert lead_similarity("Tre parole soltanto", LEAD) is None


# -- two sources, two loopback servers ----------------------------------------------------


def test_the_same_story_with_other_words_is_stored_once(
    httpserver: HTTPServer, httpserver_ipv4: HTTPServer, any_store: Store
) -> None:
    first = serve(
        httpserver,
        "/gazzetta.xml",
        rss(GAZZETTA_PIANO),
    )
    second = serve(
        httpserver_ipv4,
        "/radio.xml",
        rss(
            item(
                "La giunta approva il nuovo piano dei trasporti - Radio Valle",
                "https://radiovalle.example/notizie/piano-trasporti",
                "rv-9",
                LEAD_REWORDED,
                date="Sun, 29 Nov 2026 09:30:00 +0100",
            ),
            item("Sagra della castagna a Borgo", "https://radiovalle.example/sagra", "rv-10", LEAD),
        ),
    )
    assert ingest(any_store, first, "Gazzetta").new == 1
    report = ingest(any_store, second, "Radio Valle")
    assert (report.new, report.same) == (1, 1)
    titles = sorted(a.title for a in stored(any_store))
    assert titles == ["Sagra della castagna a Borgo", "Trasporti, la giunta approva il nuovo piano"]
    shared = next(a for a in stored(any_store) if a.source_name == "Gazzetta")
    assert any_store.article_sources(shared.id) == ["Gazzetta", "Radio Valle"]
    assert [(r.name, r.url) for r in shared.also_on] == [
        ("Radio Valle", "https://radiovalle.example/notizie/piano-trasporti")
    ]
    # Polling again neither stores it nor links it twice.
    again = ingest(any_store, second, "Radio Valle", now=T0 + timedelta(hours=1))
    assert (again.new, again.changed) == (0, 0)
    assert any_store.article_count() == 2
    assert len(stored(any_store)[0].also_on + stored(any_store)[1].also_on) == 1


def test_same_title_with_another_lead_is_another_story(
    httpserver: HTTPServer, httpserver_ipv4: HTTPServer, any_store: Store
) -> None:
    title = "Consiglio comunale, approvato il bilancio"
    first = serve(
        httpserver, "/a.xml", rss(item(title, "https://gazzetta.example/bilancio", "g-2", LEAD))
    )
    second = serve(
        httpserver_ipv4,
        "/b.xml",
        rss(item(title, "https://radiovalle.example/bilancio", "rv-2", OTHER_LEAD)),
    )
    ingest(any_store, first, "Gazzetta")
    report = ingest(any_store, second, "Radio Valle")
    assert (report.new, report.same) == (1, 0)
    assert sorted(a.source_name for a in stored(any_store)) == ["Gazzetta", "Radio Valle"]
    assert all(not a.also_on for a in stored(any_store))


def test_the_same_story_days_apart_is_not_a_duplicate(
    httpserver: HTTPServer, httpserver_ipv4: HTTPServer, any_store: Store
) -> None:
    title = "Trasporti, la giunta approva il nuovo piano"
    earlier = "Wed, 25 Nov 2026 07:00:00 +0100"  # four days before, beyond the 36 h window
    first = serve(
        httpserver,
        "/a.xml",
        rss(item(title, "https://gazzetta.example/p", "g-3", LEAD, date=earlier)),
    )
    second = serve(
        httpserver_ipv4, "/b.xml", rss(item(title, "https://radiovalle.example/p", "rv-3", LEAD))
    )
    ingest(any_store, first, "Gazzetta")
    assert ingest(any_store, second, "Radio Valle").new == 1


# -- how the feeds show it ----------------------------------------------------------------


def _published(out: Path, relative: str) -> bytes:
    return (out / relative).read_bytes()


def test_feeds_show_a_shared_story_once_naming_both_sources(
    httpserver: HTTPServer,
    httpserver_ipv4: HTTPServer,
    any_store: Store,
    tmp_path: Path,
    shared: Path,
) -> None:
    first = serve(
        httpserver,
        "/a.xml",
        rss(GAZZETTA_PIANO),
    )
    second = serve(
        httpserver_ipv4,
        "/b.xml",
        rss(
            item(
                "La giunta approva il nuovo piano dei trasporti",
                "https://radiovalle.example/piano",
                "rv-1",
                LEAD_REWORDED,
            )
        ),
    )
    out = tmp_path / "public"
    ingest(any_store, first, "Gazzetta")
    build_feeds(any_store, SITE, out, fsync=False)
    before = _published(out, "atom.xml")
    ingest(any_store, second, "Radio Valle")
    report = build_feeds(any_store, SITE, out, fsync=False)
    # The link alone changes what the feeds say: they are rebuilt.
    assert "atom.xml" in report.written and _published(out, "atom.xml") != before
    (article,) = stored(any_store)

    rss_feed = feedparser.parse(_published(out, "rss.xml"))
    (entry,) = rss_feed.entries
    assert entry.id == article.uid
    content = entry.content[0].value if "content" in entry else entry.description
    assert "Anche su" in content and "https://radiovalle.example/piano" in content

    atom_bytes = _published(out, "atom.xml")
    schema = etree.RelaxNG(etree.parse(str(shared / "schemas" / "atom.rng")))
    atom = etree.fromstring(atom_bytes)
    assert schema.validate(atom), schema.error_log
    (atom_entry,) = atom.findall(f"{ATOM}entry")
    related = [
        (link.get("href"), link.get("title"))
        for link in atom_entry.findall(f"{ATOM}link")
        if link.get("rel") == "related"
    ]
    assert related == [("https://radiovalle.example/piano", "Radio Valle")]
    parsed_atom = feedparser.parse(atom_bytes)
    assert "Anche su: " in parsed_atom.entries[0].content[0].value

    document = json.loads(_published(out, "feed.json"))
    (json_item,) = document["items"]
    assert json_item["id"] == article.uid
    assert json_item["_rassegna"]["sources"] == [
        {
            "name": "Gazzetta",
            "url": "https://gazzetta.example/piano",
            "feed_url": "http://x.test/fonte/gazzetta/feed.json",
        },
        {
            "name": "Radio Valle",
            "url": "https://radiovalle.example/piano",
            "feed_url": "http://x.test/fonte/radio-valle/feed.json",
        },
    ]
    # Each source's own feed lists it, with the first source's guid.
    for slug in ("gazzetta", "radio-valle"):
        source_feed = feedparser.parse(_published(out, f"fonte/{slug}/rss.xml"))
        assert [e.id for e in source_feed.entries] == [article.uid], slug
        source_json = json.loads(_published(out, f"fonte/{slug}/feed.json"))
        assert [i["id"] for i in source_json["items"]] == [article.uid]


# -- churn and edits ----------------------------------------------------------------------


class Churning:
    """An upstream that rewrites its one entry on every fetch: tracking parameters,
    whitespace and attribute order change, nothing a reader sees does; or, once `edited`
    is set, the text really changes."""

    def __init__(self, server: HTTPServer) -> None:
        self.fetches = 0
        self.bodies: list[bytes] = []
        self.edited = ""
        server.expect_request("/churn.xml").respond_with_handler(self)
        self.url = server.url_for("/churn.xml")

    def __call__(self, _: Request) -> Response:
        self.fetches += 1
        n = self.fetches
        spaces = " " * n
        link = (
            f'<a href="https://gazzetta.example/orari?utm_source=rss{n}" title="Orari">orari</a>'
            if n % 2
            else f'<a title="Orari" href="https://gazzetta.example/orari?utm_source=rss{n}">orari</a>'
        )
        html = f"<p>Il nuovo{spaces}piano dei trasporti cambia gli {link} delle corse.</p>"
        if self.edited:
            html += f"<p>{self.edited}</p>"
        body = rss(
            item(
                "Cambiano gli orari dei bus",
                f"https://gazzetta.example/bus?utm_medium=feed{n}",
                "bus-1",
                html,
                date=f"Sun, 29 Nov 2026 07:{n:02d}:00 +0100",
            )
        )
        self.bodies.append(body)
        return Response(body, content_type="application/rss+xml")


def test_hash_churn_is_not_an_edit_and_a_real_edit_is(
    httpserver: HTTPServer, any_store: Store
) -> None:
    upstream = Churning(httpserver)
    assert ingest(any_store, upstream.url, "Gazzetta").new == 1
    (first,) = stored(any_store)
    for hour in range(1, 5):
        report = ingest(any_store, upstream.url, "Gazzetta", now=T0 + timedelta(hours=hour))
        assert (report.new, report.changed, report.same) == (0, 0, 1), hour
    assert len(set(upstream.bodies)) == 5  # the upstream bytes really changed each time
    (after,) = stored(any_store)
    assert (after.updated, after.content_html) == (first.updated, first.content_html)
    assert any_store.article_count() == 1

    upstream.edited = "Aggiornamento: le nuove corse partono da lunedì."
    edit_time = T0 + timedelta(hours=6)
    report = ingest(any_store, upstream.url, "Gazzetta", now=edit_time)
    assert (report.new, report.changed) == (0, 1)
    (edited,) = stored(any_store)
    assert edited.uid == first.uid and edited.id == first.id
    assert "le nuove corse partono da lunedì" in edited.content_text
    assert edited.updated == edit_time > first.updated
    assert edited.published == first.published
    assert any_store.article_count() == 1


def _draft(title: str, body: str = "Il testo della notizia.") -> ArticleDraft:
    return factories.draft("n-1", title, body, published=T0, url="https://gazzetta.example/n-1")


def test_edits_beyond_the_cap_wait_for_the_next_window(any_store: Store) -> None:
    source = any_store.ensure_source(
        SourceSpec(name="Gazzetta", kind="feed", location="https://gazzetta.example/feed")
    )
    cap = EditCap(edits=2, window=timedelta(hours=24))
    any_store.upsert_articles(source, [_draft("Versione 0")], cap=cap, now=T0)
    for n in (1, 2):
        summary = any_store.upsert_articles(
            source, [_draft(f"Versione {n}")], cap=cap, now=T0 + timedelta(hours=n)
        )
        assert summary.changed == 1
    held = any_store.upsert_articles(
        source, [_draft("Versione 3")], cap=cap, now=T0 + timedelta(hours=3)
    )
    assert (held.changed, held.same, held.deferred) == (0, 1, 1)
    (article,) = stored(any_store)
    assert (article.title, article.updated) == ("Versione 2", T0 + timedelta(hours=2))
    # The first fetch after the window (which began at the first edit) stores the edit.
    later = T0 + timedelta(hours=25)
    applied = any_store.upsert_articles(source, [_draft("Versione 3")], cap=cap, now=later)
    assert applied.changed == 1
    (article,) = stored(any_store)
    assert (article.title, article.updated, article.published) == ("Versione 3", later, T0)
    # Without a cap (files sources) every edit is stored.
    free = any_store.upsert_articles(source, [_draft("Versione 4")], now=later)
    assert free.changed == 1


def test_markup_only_churn_is_counted_not_stored(any_store: Store) -> None:
    source = any_store.ensure_source(
        SourceSpec(name="Gazzetta", kind="feed", location="https://gazzetta.example/feed")
    )
    cap = EditCap()
    any_store.upsert_articles(source, [_draft("Titolo")], cap=cap, now=T0)
    churned = replace(
        _draft("Titolo "),
        content_html="<p>Il testo  della notizia.</p>\n",
        content_text="Il testo\n della notizia.",
        published=T0 + timedelta(minutes=5),
    )
    summary = any_store.upsert_articles(source, [churned], cap=cap, now=T0 + timedelta(hours=1))
    assert (summary.changed, summary.same, summary.churn) == (0, 1, 1)
    # Without a cap the same draft is an edit (its hash changed).
    assert any_store.upsert_articles(source, [churned], now=T0 + timedelta(hours=1)).changed == 1


def same_story(store: Store, source: int, title: str, hours: int, lead: str) -> int | None:
    """What `find_duplicate` finds for an article of `source` without an address, titled
    `title`, published `hours` after T0 and opening with `lead`, within 36 hours."""
    return store.find_duplicate(
        source,
        url=None,
        title=title,
        published=T0 + timedelta(hours=hours),
        window=timedelta(hours=36),
        lead=lead,
    )


@pytest.mark.parametrize("lead", [LEAD_REWORDED, OTHER_LEAD])
def test_find_duplicate_checks_the_lead(any_store: Store, lead: str) -> None:
    one = any_store.ensure_source(SourceSpec(name="Uno", kind="feed", location="u"))
    two = any_store.ensure_source(SourceSpec(name="Due", kind="feed", location="d"))
    draft = factories.draft(
        "x", "Trasporti, la giunta approva il nuovo piano", summary=LEAD, published=T0
    )
    any_store.upsert_articles(one, [draft])
    found = same_story(
        any_store, two, "La giunta approva il nuovo piano dei trasporti | Radio Valle", 3, lead
    )
    expected = stored(any_store)[0].id if lead == LEAD_REWORDED else None
    assert found == expected


# -- revision 0008 on a database stored before it -------------------------------------------


def test_upgrade_back_fills_title_keys(bare_url: str) -> None:
    """An article stored before revision 0008 is found as a duplicate after the upgrade."""
    engine, tables = old_database(bare_url, "0007")
    assert "title_key" not in tables["articles"].c
    old = {
        "guid": "g-1",
        "title": "Trasporti, la giunta approva il nuovo piano",
        "summary": LEAD,
        "slug": "piano",
    }
    with engine.begin() as connection:
        insert_old_articles(
            connection,
            tables,
            T0,
            [old],
            name="Gazzetta",
            slug="gazzetta",
            kind="feed",
            location="https://gazzetta.example/feed",
        )
    engine.dispose()
    store = Store.open(bare_url)  # migrates to head
    try:
        other = store.ensure_source(SourceSpec(name="Radio Valle", kind="feed", location="r"))
        found = same_story(
            store, other, "La giunta approva il nuovo piano dei trasporti", 2, LEAD_REWORDED
        )
        (article,) = stored(store)
        assert found == article.id
    finally:
        store.close()
