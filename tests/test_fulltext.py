"""Full text of a truncated feed over real loopback HTTP into a real store: article pages
in the shapes Italian news sites use, extracted by a site rule (with an article split over
two pages), by a source's content_selector and by trafilatura; each page fetched once;
pages that time out, are too big, are garbage or sit on a private address keep the feed
text; the per-poll limit; an edited entry fetches its page again."""

from __future__ import annotations

import itertools
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpcore
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from db import models
from db.records import SourceSpec
from db.store import Store
from ingest.extract import Selectors
from ingest.fetch import Fetcher
from ingest.fulltext import FullTextOptions
from ingest.pipeline import IngestReport
from ingest.remote import RemoteOptions, ingest_remote_source
from ingest.siterules import load_site_rules
from tests.remote_helpers import policy, raw_server, rss

DATA = Path(__file__).resolve().parent / "data" / "fulltext"
T0 = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
TEASER = "Il testo completo è sul sito."


def item(title: str, link: str, *, hours: int, body: str = TEASER) -> str:
    date = (T0 - timedelta(hours=hours)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>{body}</description><pubDate>{date}</pubDate></item>"
    )


def page(name: str) -> bytes:
    return (DATA / name).read_bytes()


class Site:
    """The feed and article pages, counting the requests each path answered."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.hits: dict[str, int] = {}
        self.pages: dict[str, bytes] = {
            "/cronaca/ponte-riaperto": page("cronaca-ponte.html"),
            "/sport/virtus-rimonta": page("sport-pagina1.html"),
            "/sport/virtus-rimonta?pagina=2": page("sport-pagina2.html"),
            "/economia/cuoio": page("economia-selettore.html"),
            "/cultura/teatro": page("cultura-trafilatura.html"),
            "/inchieste/acqua": page("inchiesta-anteprima.html"),
            "/inchieste/acqua?versione=integrale": page("inchiesta-integrale.html"),
        }
        self.feed = b""
        self.conditional: list[str | None] = []
        self.times: list[tuple[str, float]] = []
        server.expect_request("/feed.xml").respond_with_handler(self.serve_feed)
        for path in ("/cronaca/ponte-riaperto", "/sport/virtus-rimonta", "/economia/cuoio"):
            server.expect_request(path).respond_with_handler(self.serve_page)
        server.expect_request("/cultura/teatro").respond_with_handler(self.serve_page)
        server.expect_request("/inchieste/acqua").respond_with_handler(self.serve_page)

    def serve_feed(self, request: Request) -> Response:
        self.times.append(("/feed.xml", time.monotonic()))
        return Response(self.feed, content_type="application/rss+xml; charset=utf-8")

    def serve_page(self, request: Request) -> Response:
        key = request.full_path.rstrip("?")
        self.hits[key] = self.hits.get(key, 0) + 1
        self.times.append((key, time.monotonic()))
        self.conditional.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"p1"':
            return Response(status=304, headers={"ETag": '"p1"'})
        return Response(
            self.pages[key], content_type="text/html; charset=utf-8", headers={"ETag": '"p1"'}
        )

    def local(self, path: str) -> str:
        return f"http://localhost:{self.server.port}{path}"

    def numeric(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"


def options(mode: str = "on", **changes: object) -> RemoteOptions:
    values: dict[str, object] = {
        "mode": mode,
        "rules": load_site_rules(DATA / "rules"),
        "selectors": Selectors(content="div.testo", strip=(".box-social", ".banner")),
    }
    values.update(changes)
    return RemoteOptions(full_text=FullTextOptions(**values))  # type: ignore[arg-type]


def ingest(
    store: Store,
    url: str,
    opts: RemoteOptions,
    *,
    now: datetime = T0,
    fetcher_policy: dict[str, object] | None = None,
) -> IngestReport:
    spec = SourceSpec(name="Gazzetta", kind="feed", location=url, interval_seconds=600)
    with Fetcher(policy(**(fetcher_policy or {}))) as fetcher:
        return ingest_remote_source(store, spec, fetcher, options=opts, now=now)


def stored(store: Store) -> dict[str, tuple[str, str, str, str]]:
    """title -> (content_text, summary, text_source, content_html)"""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(
                models.Article.title,
                models.Article.content_text,
                models.Article.summary,
                models.Article.text_source,
                models.Article.content_html,
            )
        ).all()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    return Site(httpserver)


def full_feed(site: Site) -> bytes:
    return rss(
        item("Riaperto il ponte sull'Arno", site.local("/cronaca/ponte-riaperto"), hours=1),
        item("La Virtus rimonta", site.local("/sport/virtus-rimonta"), hours=2),
        item("Il cuoio assume", site.numeric("/economia/cuoio"), hours=3),
        item("Riapre il teatro", site.numeric("/cultura/teatro"), hours=4),
    )


def test_truncated_feed_gets_the_full_text(site: Site, store: Store) -> None:
    site.feed = full_feed(site)
    report = ingest(store, site.server.url_for("/feed.xml"), options())
    assert report.error is None and report.new == 4
    assert (report.full_text_ok, report.full_text_failed) == (4, 0)
    articles = stored(store)

    text, summary, source, html = articles["Riaperto il ponte sull'Arno"]
    assert source == "page"
    assert summary == TEASER  # the feed's own text stays the summary
    assert "pile centrali" in text and "ponte più a valle" in text
    for junk in ("Condividi", "Pubblicità", "Leggi anche", "Articoli correlati", "Privacy"):
        assert junk not in text, junk
    assert "materassi" not in html and "pixel" not in html and "dataLayer" not in html

    # Split over two pages, joined by the rule's next_page_link.
    text, _, source, _ = articles["La Virtus rimonta"]
    assert source == "page"
    assert "diciotto punti" in text and "tripla dall'angolo" in text.replace("’", "'")
    assert "Pagina successiva" not in text and "calendario del girone" not in text
    assert site.hits["/sport/virtus-rimonta?pagina=2"] == 1

    # No rule for 127.0.0.1: the source's content_selector, after its strip_selectors.
    text, _, source, _ = articles["Il cuoio assume"]
    assert source == "page" and "quattrocento nuovi contratti" in text
    assert "SPAZIO PUBBLICITARIO" not in text and "LinkedIn" not in text
    assert "Export" not in text

    # Neither rule nor selector: trafilatura.
    text, _, source, _ = articles["Riapre il teatro"]
    assert source == "page" and "decorazioni ottocentesche" in text
    assert "Notizie del Valdarno" not in text

    with store.engine.connect() as connection:
        methods = dict(
            connection.execute(select(models.FetchedPage.url, models.FetchedPage.method)).all()
        )
    assert methods[site.numeric("/economia/cuoio")] == "selector"
    assert methods[site.numeric("/cultura/teatro")] == "trafilatura"
    assert methods[site.local("/cronaca/ponte-riaperto")].startswith("rule ")

    # Search sees the page's words, not only the teaser's.
    found = store.search("decorazioni ottocentesche")
    assert [h.title for h in found] == ["Riapre il teatro"]

    # The second poll fetches no page again and changes nothing.
    hits = dict(site.hits)
    again = ingest(store, site.server.url_for("/feed.xml"), options(), now=T0 + timedelta(hours=1))
    assert site.hits == hits
    assert again.new == 0 and again.changed == 0 and again.same == 4
    assert stored(store) == articles


def test_single_page_link_reads_the_whole_article(site: Site, store: Store) -> None:
    site.feed = rss(item("Acqua, la rete perde", site.local("/inchieste/acqua"), hours=1))
    report = ingest(store, site.server.url_for("/feed.xml"), options())
    assert report.full_text_ok == 1
    text, _, source, _ = stored(store)["Acqua, la rete perde"]
    assert source == "page" and "sensori che segnalano le perdite" in text
    assert "Leggi l'inchiesta completa" not in text and "Pubblicità" not in text
    assert site.hits == {"/inchieste/acqua": 1, "/inchieste/acqua?versione=integrale": 1}


def test_auto_fetches_only_short_entries(site: Site, store: Store) -> None:
    long_text = " ".join(["Una frase abbastanza lunga del testo del feed."] * 20)
    site.feed = rss(
        item("Breve", site.local("/cronaca/ponte-riaperto"), hours=1),
        item("Lunga", site.numeric("/cultura/teatro"), hours=2, body=long_text),
    )
    report = ingest(store, site.server.url_for("/feed.xml"), options("auto", min_words=120))
    assert report.full_text_ok == 1
    assert site.hits == {"/cronaca/ponte-riaperto": 1}
    assert stored(store)["Lunga"][2] == "feed"


def test_per_poll_limit_newest_first_then_the_rest(site: Site, store: Store) -> None:
    site.feed = full_feed(site)
    url = site.server.url_for("/feed.xml")
    first = ingest(store, url, options(per_poll=2))
    assert first.full_text_ok == 2
    sources = {title: row[2] for title, row in stored(store).items()}
    assert sources == {
        "Riaperto il ponte sull'Arno": "page",
        "La Virtus rimonta": "page",
        "Il cuoio assume": "feed",
        "Riapre il teatro": "feed",
    }
    second = ingest(store, url, options(per_poll=2), now=T0 + timedelta(minutes=10))
    assert second.full_text_ok == 2 and second.changed == 2
    assert {row[2] for row in stored(store).values()} == {"page"}


def test_edited_entry_fetches_its_page_again(site: Site, store: Store) -> None:
    link = site.local("/cronaca/ponte-riaperto")
    site.feed = rss(item("Riaperto il ponte sull'Arno", link, hours=1))
    url = site.server.url_for("/feed.xml")
    ingest(store, url, options())
    site.feed = rss(item("Riaperto il ponte sull'Arno", link, hours=1, body="Aggiornato."))
    report = ingest(store, url, options(), now=T0 + timedelta(minutes=10))
    assert site.hits["/cronaca/ponte-riaperto"] == 2
    # Fetched again with the page's validators: a 304 keeps the text already extracted.
    assert site.conditional == [None, '"p1"']
    assert report.full_text_ok == 1
    text, summary, source, _ = stored(store)["Riaperto il ponte sull'Arno"]
    assert source == "page" and "pile centrali" in text and summary == "Aggiornato."


def test_pages_share_the_host_spacing_of_feed_polls(site: Site, store: Store) -> None:
    site.feed = rss(
        item("Riaperto il ponte sull'Arno", site.numeric("/cronaca/ponte-riaperto"), hours=1),
        item("Riapre il teatro", site.numeric("/cultura/teatro"), hours=2),
    )
    feed_url = site.numeric("/feed.xml")
    report = ingest(store, feed_url, options(), fetcher_policy={"host_delay": 0.4})
    assert report.full_text_ok == 2
    moments = [moment for _path, moment in site.times]
    assert site.times[0][0] == "/feed.xml" and len(moments) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    assert all(gap >= 0.35 for gap in gaps), gaps


def _failing_feed(site: Site, link: str) -> None:
    site.feed = rss(item("Notizia breve", link, hours=1, body="Il riassunto del feed resta."))


def _assert_feed_text_kept(store: Store, report: IngestReport) -> None:
    assert report.error is None and report.new == 1
    assert (report.full_text_ok, report.full_text_failed) == (0, 1)
    text, _, source, _ = stored(store)["Notizia breve"]
    assert source == "feed" and text == "Il riassunto del feed resta."


def test_page_that_times_out_keeps_the_feed_text(site: Site, store: Store) -> None:
    with raw_server("silent") as base:
        _failing_feed(site, f"{base}/lento")
        report = ingest(
            store,
            site.server.url_for("/feed.xml"),
            options(),
            fetcher_policy={"total_timeout": 1.0},
        )
    _assert_feed_text_kept(store, report)


def test_page_too_big_keeps_the_feed_text(site: Site, store: Store) -> None:
    chunk = b"<p>" + b"parola " * 1000 + b"</p>"
    repeats = (50 * 1024 * 1024) // len(chunk) + 1

    def huge(_request: Request) -> Response:
        # Streamed, without a Content-Length: the fetcher must stop reading by itself.
        return Response(
            (chunk for _ in range(repeats)), content_type="text/html", direct_passthrough=True
        )

    site.server.expect_request("/enorme").respond_with_handler(huge)
    _failing_feed(site, site.numeric("/enorme"))
    report = ingest(
        store, site.server.url_for("/feed.xml"), options(), fetcher_policy={"max_bytes": 10 << 20}
    )
    _assert_feed_text_kept(store, report)


def test_garbage_page_keeps_the_feed_text(site: Site, store: Store) -> None:
    garbage = bytes((i * 7919) % 251 for i in range(200_000))
    site.server.expect_request("/rotta").respond_with_data(garbage, content_type="text/html")
    _failing_feed(site, site.numeric("/rotta"))
    report = ingest(store, site.server.url_for("/feed.xml"), options())
    _assert_feed_text_kept(store, report)


def test_page_with_less_text_than_the_feed_keeps_the_feed_text(site: Site, store: Store) -> None:
    site.server.expect_request("/vuota").respond_with_data(
        "<html><body><article><p>Due parole.</p></article></body></html>",
        content_type="text/html",
    )
    _failing_feed(site, site.numeric("/vuota"))
    report = ingest(store, site.server.url_for("/feed.xml"), options())
    _assert_feed_text_kept(store, report)


def _ingest_guarded(site: Site, store: Store, link: str) -> None:
    """A feed whose entry links to `link`, which redirects to the article on 127.0.0.1:
    the feed is fetched beforehand (as the daemon's claim would hand it over), then
    ingested through a fetcher that refuses private addresses; the entry must keep its
    feed text."""
    site.server.expect_request("/salto").respond_with_data(
        "", status=302, headers={"Location": site.numeric("/cronaca/ponte-riaperto")}
    )
    _failing_feed(site, link)
    with Fetcher(policy()) as open_fetcher:
        feed = open_fetcher.fetch(site.server.url_for("/feed.xml"), now=T0)
    spec = SourceSpec(
        name="Gazzetta",
        kind="feed",
        location=site.server.url_for("/feed.xml"),
        interval_seconds=600,
    )
    with Fetcher(policy(allow_private_networks=False)) as guarded:
        report = ingest_remote_source(
            store, spec, guarded, options=options(), now=T0, prefetched=feed
        )
    _assert_feed_text_kept(store, report)


def test_article_on_a_private_address_is_refused(site: Site, store: Store) -> None:
    """The feed comes from loopback (fetched beforehand, as the daemon's claim would
    hand it over); the article link, which redirects to 127.0.0.1, is refused by the
    address guard of the very fetcher feeds use, before any request reaches it."""
    _ingest_guarded(site, store, site.local("/salto"))
    assert site.hits == {}
    assert not [e for e in site.server.log if e[0].path in ("/salto", "/cronaca/ponte-riaperto")]
    with store.engine.connect() as connection:
        reason = connection.execute(select(models.FetchedPage.method)).scalar_one()
    assert "refused" in reason and "allow_private_networks" in reason


PUBLIC_HOST = "notizie.esempio.it"
PUBLIC_ADDRESS = "151.101.2.10"  # a public address, reached here through loopback


@pytest.fixture
def public_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """`notizie.esempio.it` resolves to a public address, and connections to it land on
    loopback: the public internet, which cannot run here, is the only thing faked (the
    resolver and the socket layer), so the address guard sees a public first hop."""
    real_resolve = socket.getaddrinfo
    real_connect = httpcore.SyncBackend.connect_tcp

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == PUBLIC_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ADDRESS, port))]
        return real_resolve(host, port, *args, **kwargs)

    def connect(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return real_connect(
            self, "127.0.0.1" if host == PUBLIC_ADDRESS else host, port, *args, **kwargs
        )

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect)


@pytest.mark.usefixtures("public_host")
def test_public_article_link_redirecting_to_loopback_keeps_the_feed_text(
    site: Site, store: Store
) -> None:
    """The article link's first hop is a public host; its redirect to 127.0.0.1 is
    refused by the guard on the second hop, and the entry keeps its feed text."""
    _ingest_guarded(site, store, f"http://{PUBLIC_HOST}:{site.server.port}/salto")
    # The public first hop was fetched; the private second never was.
    assert [e[0].path for e in site.server.log if e[0].path != "/feed.xml"] == ["/salto"]
    assert site.hits == {}
    with store.engine.connect() as connection:
        reason = connection.execute(select(models.FetchedPage.method)).scalar_one()
    assert "127.0.0.1 resolves to 127.0.0.1" in reason and "allow_private_networks" in reason
