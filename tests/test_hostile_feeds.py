"""Hostile and broken feeds, over real loopback HTTP into a real store.

Every case follows the same script: a source first ingests a good feed (three articles),
then its server turns hostile. The hostile fetch must end in one clear line naming the
source (or in skipped entries, each with a reason), keep the three articles exactly as
they were, let another source ingest normally afterwards, and leave feeds that build and
parse. Nothing may raise.
"""

from __future__ import annotations

import codecs
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text
from werkzeug import Request, Response

from db.records import SourceSpec
from db.store import Store
from feeds.build import build_feeds
from feeds.site import SiteInfo
from ingest.fetch import Fetcher, FetchPolicy
from ingest.pipeline import IngestReport
from ingest.remote import RemoteOptions, ingest_remote_source
from tests.reliability_helpers import assert_output_valid
from tests.remote_helpers import policy, raw_server, tcp_server

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
GOOD_TITLES = (
    "Sciopero dei treni venerdì in tutta la regione",
    "Il consiglio comunale approva il bilancio",
    "Nuova pista ciclabile lungo il fiume",
)
STRESS = bool(os.environ.get("RASSEGNA_STRESS"))


def rss(items: str, *, prolog: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        f'{prolog}<rss version="2.0"><channel><title>Fonte</title>'
        f"<link>http://example.org/</link>{items}</channel></rss>"
    ).encode()


def item(n: int | str, title: str, *, date: str = "Mon, 02 Nov 2026 10:00:00 +0100") -> str:
    return (
        f"<item><title>{title}</title><link>http://example.org/a/{n}</link>"
        f"<guid>id-{n}</guid><pubDate>{date}</pubDate>"
        f"<description>Il testo dell'articolo {n}, in italiano.</description></item>"
    )


GOOD = rss("".join(item(i, t) for i, t in enumerate(GOOD_TITLES)))


@dataclass
class Switch:
    """A handler whose answer can be changed between fetches."""

    body: bytes = GOOD
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200

    def __call__(self, request: Request) -> Response:
        return Response(self.body, status=self.status, content_type=self.content_type)


@dataclass
class World:
    store: Store
    server: HTTPServer
    feed: Switch
    out: Path

    @property
    def url(self) -> str:
        return self.server.url_for("/hostile.xml")

    def ingest(
        self,
        url: str | None = None,
        *,
        name: str = "Fonte ostile",
        fetch_policy: FetchPolicy | None = None,
        now: datetime = T0,
    ) -> IngestReport:
        spec = SourceSpec(name=name, kind="feed", location=url or self.url, interval_seconds=600)
        with Fetcher(fetch_policy or policy()) as fetcher:
            return ingest_remote_source(self.store, spec, fetcher, options=RemoteOptions(), now=now)

    def ingest_instead(self, body: bytes, content_type: str) -> IngestReport:
        """The next ingest, an hour after the first, with the feed now serving `body`."""
        self.feed.body, self.feed.content_type = body, content_type
        return self.ingest(now=T0 + timedelta(hours=1))

    def titles(self) -> set[str]:
        return {a.title for a in self.store.latest_articles(100_000)}

    def good_articles(self) -> dict[str, tuple[str, str]]:
        return {
            a.title: (a.content_html, a.uid)
            for a in self.store.latest_articles(100_000)
            if a.title in GOOD_TITLES
        }


@pytest.fixture
def world(httpserver: HTTPServer, store: Store, tmp_path: Path) -> World:
    feed = Switch()
    httpserver.expect_request("/hostile.xml").respond_with_handler(feed)
    httpserver.expect_request("/other.xml").respond_with_data(
        rss(item("o1", "Un'altra fonte continua a funzionare")),
        content_type="application/rss+xml",
    )
    found = World(store, httpserver, feed, tmp_path / "public")
    first = found.ingest()
    assert first.error is None and first.new == 3, first
    return found


def assert_survived(world: World, before: dict[str, tuple[str, str]]) -> None:
    """The good articles are intact, another source goes on, the feeds build and parse."""
    assert world.good_articles() == before
    other = world.ingest(world.server.url_for("/other.xml"), name="Altra fonte")
    assert other.error is None and other.new == 1
    site = SiteInfo(title="Prova", link="http://127.0.0.1/", base_url="http://127.0.0.1/")
    build_feeds(world.store, site, world.out, fsync=False)
    assert assert_output_valid(world.out) >= 9


def one_line_naming_the_source(report: IngestReport, *words: str) -> None:
    assert report.error is not None, report
    assert report.error.startswith('source "Fonte ostile": '), report.error
    assert "\n" not in report.error and "Traceback" not in report.error
    for word in words:
        assert word in report.error, report.error


# -- documents that are not feeds ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"ciao, non sono un feed", "text/plain", id="plain-text"),
        pytest.param(
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "image/png", id="binary"
        ),
        pytest.param(b"", "application/rss+xml", id="empty-200"),
        pytest.param(b"   \n\t  ", "application/rss+xml", id="whitespace-200"),
        pytest.param(
            b"<!doctype html><html><head><title>Home</title></head>"
            b"<body><h1>Benvenuti</h1><p>Nessun feed qui.</p></body></html>",
            "text/html; charset=utf-8",
            id="html-instead-of-feed",
        ),
        pytest.param(
            b'{"version": "https://jsonfeed.org/version/1.1", "items": 3',
            "application/feed+json",
            id="broken-json-feed",
        ),
        pytest.param(b"<?xml version='1.0'?><nothing/>", "application/xml", id="xml-not-a-feed"),
    ],
)
def test_not_a_feed_is_one_line_and_nothing_is_lost(
    world: World, body: bytes, content_type: str
) -> None:
    before = world.good_articles()
    report = world.ingest_instead(body, content_type)
    one_line_naming_the_source(report, world.url)
    assert "feed" in report.error.lower()  # type: ignore[union-attr]
    assert report.new == report.changed == 0
    state = next(s for s in world.store.source_states() if s.name == "Fonte ostile")
    assert state.last_error == report.error and state.consecutive_errors == 1
    assert_survived(world, before)


def test_truncated_xml_keeps_the_whole_entries_and_flags_the_feed(world: World) -> None:
    before = world.good_articles()
    whole = rss(item(10, "Primo articolo intero") + item(11, "Secondo articolo intero"))
    world.feed.body = whole[: whole.index(b"<item>", whole.index(b"Secondo") - 300) + 60]
    report = world.ingest(now=T0 + timedelta(hours=1))
    assert report.error is None
    assert "Primo articolo intero" in world.titles()
    state = next(s for s in world.store.source_states() if s.name == "Fonte ostile")
    assert state.bozo  # flagged as malformed, with the parser's reason
    assert_survived(world, before)


# -- encodings -----------------------------------------------------------------------------

ACCENTED = "Perché la città è più “viva”: l’estate"


def accented(declared: str | None = "utf-8", written_in: str = "utf-8") -> bytes:
    """A feed with one accented title, its XML declaration naming `declared` (None: no
    declaration), its bytes encoded in `written_in`."""
    prolog = "" if declared is None else f'<?xml version="1.0" encoding="{declared}"?>'
    return rss(item(20, ACCENTED), prolog=prolog).decode().encode(written_in)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(accented("ISO-8859-1"), "application/rss+xml", id="utf8-declared-latin1"),
        pytest.param(
            accented("utf-8", "cp1252"),
            "application/rss+xml; charset=utf-8",
            id="cp1252-served-as-utf8",
        ),
        pytest.param(accented("us-ascii", "cp1252"), "text/xml", id="cp1252-declared-ascii"),
        pytest.param(codecs.BOM_UTF8 + accented(), "application/rss+xml", id="utf8-bom"),
        pytest.param(
            codecs.BOM_UTF8 + accented(None),
            "application/rss+xml; charset=iso-8859-1",
            id="bom-beats-http-charset",
        ),
        pytest.param(accented("utf-16"), "application/rss+xml", id="lying-utf16"),
        pytest.param(
            accented("x-no-such-charset"),
            "application/rss+xml; charset=klingon",
            id="unknown-charsets",
        ),
        pytest.param(
            codecs.BOM_UTF16_LE + accented("utf-16", "utf-16-le"),
            "application/rss+xml",
            id="utf16-bom",
        ),
    ],
)
def test_wrong_encodings_still_give_the_right_letters(
    world: World, body: bytes, content_type: str
) -> None:
    before = world.good_articles()
    report = world.ingest_instead(body, content_type)
    assert report.error is None, report.error
    assert 'Perché la città è più "viva": l\'estate' in world.titles() or (
        "Perché la città è più «viva»: l’estate" in world.titles()
    ), world.titles()
    assert not any("Ã" in t or "\ufffd" in t for t in world.titles())
    assert_survived(world, before)


# -- size and time limits ------------------------------------------------------------------


def test_a_50_mb_body_is_refused_by_max_bytes(world: World) -> None:
    before = world.good_articles()
    head = rss("").split(b"</channel>")[0]
    world.feed.body = head + item(30, "Enorme").encode() * (
        50 * 1024 * 1024 // len(item(30, "Enorme")) + 1
    )
    assert len(world.feed.body) > 49 * 1024 * 1024
    report = world.ingest(
        fetch_policy=policy(max_bytes=10 * 1024 * 1024), now=T0 + timedelta(hours=1)
    )
    one_line_naming_the_source(report, "ingest.max_bytes")
    assert "Enorme" not in world.titles()
    assert_survived(world, before)


@contextmanager
def endless_server() -> Iterator[str]:
    """Answers 200 without a length, then sends feed items as fast as it can, forever."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                    b"Connection: close\r\n\r\n" + rss("").split(b"</channel>")[0]
                )
                chunk = item("x", "Infinito").encode() * 300
                while not stop.is_set():
                    conn.sendall(chunk)
            except OSError:
                return

    with tcp_server(serve) as base:
        yield base + "/endless.xml"


def test_an_endless_body_stops_at_max_bytes(world: World) -> None:
    before = world.good_articles()
    with endless_server() as url:
        report = world.ingest(url, name="Fonte ostile", fetch_policy=policy(max_bytes=2_000_000))
    one_line_naming_the_source(report, "2000000 bytes", "ingest.max_bytes")
    assert "Infinito" not in world.titles()
    assert_survived(world, before)


def test_a_slow_drip_is_cut_by_the_total_timeout(world: World) -> None:
    before = world.good_articles()
    with raw_server("drip", interval=0.05) as base:
        started = datetime.now(UTC)
        report = world.ingest(base + "/feed.xml", fetch_policy=policy(total_timeout=1.5))
        elapsed = (datetime.now(UTC) - started).total_seconds()
    one_line_naming_the_source(report, "no complete answer within 1.5 s")
    assert elapsed < 5
    assert_survived(world, before)


# -- XML attacks ---------------------------------------------------------------------------

LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)
QUADRATIC = '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "A" * 50_000 + '">]>'


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(rss(item(40, "Risate &lol9;"), prolog=LAUGHS), id="billion-laughs"),
        pytest.param(
            rss(item(40, "Esplosione").replace("Il testo", "&a;" * 50_000), prolog=QUADRATIC),
            id="quadratic-blowup",
        ),
    ],
)
def test_entity_bombs_do_not_expand(world: World, body: bytes) -> None:
    before = world.good_articles()
    world.feed.body = body
    report = world.ingest(now=T0 + timedelta(hours=1))
    assert report.error is None or report.error.startswith('source "Fonte ostile": ')
    with world.store.engine.connect() as connection:
        longest = connection.execute(
            text("SELECT max(length(content_html) + length(title)) FROM articles")
        ).scalar_one()
    # 10^9 "lol"s or 50,000 x 50,000 "A"s would be gigabytes; nothing near that is stored.
    assert longest < 1_000_000
    assert "lollollol" not in " ".join(world.titles())
    assert_survived(world, before)


SECRET = "SEGRETO-d1f5c0a7-NON-DEVE-USCIRE"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    (tmp_path / "evil.dtd").write_text(f'<!ENTITY stolen SYSTEM "file://{path}">', encoding="utf-8")
    return path


def xxe_bodies(secret: Path, server: HTTPServer) -> list[bytes]:
    dtd = secret.parent / "evil.dtd"
    spy = server.url_for("/spy")
    return [
        # A general external entity in the title and in the body.
        rss(
            item(50, "Furto &xxe;").replace("Il testo", "Corpo &xxe;"),
            prolog=f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>',
        ),
        # A parameter entity pulling in a DTD that defines the entity.
        rss(
            item(51, "Furto &stolen;"),
            prolog=f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % ext SYSTEM "file://{dtd}"> %ext;]>',
        ),
        # An external DTD subset.
        rss(
            item(52, "Furto &stolen;"),
            prolog=f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "file://{dtd}">',
        ),
        # An entity that would make us fetch a URL (server-side request forgery).
        rss(
            item(53, "Spia &spy;"),
            prolog=f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY spy SYSTEM "{spy}">]>',
        ),
        # XInclude in an Atom content.
        (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
            ' xmlns:xi="http://www.w3.org/2001/XInclude"><title>F</title><id>urn:f</id>'
            "<updated>2026-11-02T10:00:00Z</updated><entry><id>urn:e54</id><title>Inclusione</title>"
            '<updated>2026-11-02T10:00:00Z</updated><content type="xhtml"><div'
            ' xmlns="http://www.w3.org/1999/xhtml">Prima <xi:include'
            f' href="file://{secret}" parse="text"/> dopo</div></content></entry></feed>'
        ).encode(),
    ]


def test_external_entities_never_read_a_local_file(
    world: World, secret_file: Path, tmp_path: Path
) -> None:
    before = world.good_articles()
    spy_hits: list[str] = []
    world.server.expect_request("/spy").respond_with_handler(
        lambda request: spy_hits.append(request.path) or Response("SPIATO")  # type: ignore[func-returns-value]
    )
    for n, body in enumerate(xxe_bodies(secret_file, world.server)):
        world.feed.body = body
        report = world.ingest(now=T0 + timedelta(hours=1 + n))
        assert report.error is None or "\n" not in report.error
    assert_survived(world, before)
    with world.store.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT title, summary, content_html, content_text FROM articles")
        ).all()
    dump = repr(rows)
    assert SECRET not in dump and "SPIATO" not in dump
    assert {"Furto", "Inclusione"} & world.titles()  # the entries themselves were read
    for path in world.out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert spy_hits == []


# -- what is inside the entries -------------------------------------------------------------


def test_entries_without_title_link_or_date(world: World) -> None:
    before = world.good_articles()
    world.feed.body = rss(
        "<item><link>http://example.org/a/60</link><guid>id-60</guid>"
        "<description>Senza titolo.</description></item>"
        "<item><title>Senza link né data</title><guid>id-61</guid>"
        "<description>Corpo.</description></item>"
        "<item><title>Senza guid né link</title><description>Corpo 62.</description></item>"
        "<item></item>"
    )
    report = world.ingest(now=T0 + timedelta(hours=1))
    assert report.error is None
    titles = world.titles()
    # An untitled item is titled from its text; an empty item is skipped and counted.
    assert {"Senza titolo", "Senza link né data", "Senza guid né link"} <= titles
    assert [p.reason for p in report.problems] == ["an entry has no title, no text and no link"]
    undated = next(a for a in world.store.latest_articles(100) if a.title == "Senza link né data")
    assert undated.published == T0 + timedelta(hours=1)  # first seen
    assert_survived(world, before)


def test_duplicate_guids_store_each_entry_once(world: World) -> None:
    before = world.good_articles()
    world.feed.body = rss(
        item(70, "Doppione uno").replace("id-70", "stesso")
        + item(71, "Doppione due").replace("id-71", "stesso")
        + item(71, "Doppione due").replace("id-71", "stesso")
    )
    report = world.ingest(now=T0 + timedelta(hours=1))
    assert report.error is None and report.new == 2
    with world.store.engine.connect() as connection:
        dupes = connection.execute(
            text("SELECT source_id, guid, count(*) FROM articles GROUP BY 1, 2 HAVING count(*) > 1")
        ).all()
    assert dupes == []
    assert {"Doppione uno", "Doppione due"} <= world.titles()
    assert_survived(world, before)


@pytest.mark.parametrize(
    "date",
    [
        "Fri, 01 Jan 9999 10:00:00 +0000",
        "Sat, 01 Jan 2084 10:00:00 +0000",
        "Mon, 01 Jan 1066 10:00:00 +0000",
        "1850-01-01",
        "0001-01-01T00:00:00Z",
        "Sat, 01 Jan 275760 10:00:00 +0000",
    ],
)
def test_dates_far_in_the_future_or_before_1900_become_first_seen(world: World, date: str) -> None:
    before = world.good_articles()
    world.feed.body = rss(item(80, "Data assurda", date=date) + item(81, "Data buona"))
    report = world.ingest(now=T0 + timedelta(hours=1))
    assert report.error is None
    article = next(a for a in world.store.latest_articles(100) if a.title == "Data assurda")
    # Not in the far future (it would head every feed for ever), not before 1900.
    assert datetime(1900, 1, 1, tzinfo=UTC) <= article.published <= T0 + timedelta(days=2)
    assert article.updated <= T0 + timedelta(days=2)
    assert_survived(world, before)


@pytest.mark.parametrize("date", ["0000-00-00", "9999-12-31T23:59:59-05:00"])
def test_out_of_range_dates_do_not_crash_the_feed(world: World, date: str) -> None:
    before = world.good_articles()
    world.feed.body = rss(item(82, "Data fuori scala", date=date) + item(83, "Data buona"))
    report = world.ingest(now=T0 + timedelta(hours=1))
    assert report.error is None
    assert "Data buona" in world.titles()
    assert_survived(world, before)


def test_a_one_megabyte_title_is_cut(world: World) -> None:
    before = world.good_articles()
    world.feed.body = rss(item(90, "Parola " * 150_000) + item(91, "x" * 1_000_000))
    report = world.ingest(now=T0 + timedelta(hours=1))
    assert report.error is None
    long_titles = [t for t in world.titles() if t.startswith(("Parola", "xxx"))]
    assert len(long_titles) == 2
    assert all(len(t) <= 1000 for t in long_titles)
    assert_survived(world, before)


class _SlowError(Exception):
    pass


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise _SlowError in this (main) thread after `seconds`: a stuck ingest fails the test."""

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise _SlowError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


ENTRY_CAP = 10_000


def test_a_feed_of_100000_entries_is_capped(world: World) -> None:
    count = 100_000 if STRESS else 20_000
    before = world.good_articles()
    world.feed.body = rss(
        "".join(f"<item><title>Voce {i}</title><guid>v{i}</guid></item>" for i in range(count))
    )
    with deadline(120 if STRESS else 25):
        report = world.ingest(now=T0 + timedelta(hours=1))
    assert report.error is None
    assert 0 < report.new <= ENTRY_CAP
    assert_survived(world, before)


def test_an_implausible_date_is_stable_across_polls(world: World) -> None:
    world.feed.body = rss(item(84, "Data assurda", date="Fri, 01 Jan 9999 10:00:00 +0000"))
    world.ingest(now=T0 + timedelta(hours=1))
    first = next(a for a in world.store.latest_articles(100) if a.title == "Data assurda")
    report = world.ingest(now=T0 + timedelta(hours=2))
    again = next(a for a in world.store.latest_articles(100) if a.title == "Data assurda")
    assert report.changed == 0 and report.same == 1
    assert (again.published, again.updated) == (first.published, first.updated)
