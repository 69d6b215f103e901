"""Full text, the rest of a page's life over real loopback HTTP: what a site rule's
`title:`, `author:` and `date:` find fills what the feed entry lacks (stored, and in the
published feed), and a page that failed is tried again on later polls, a bounded number
of times and spaced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from db import models
from db.store import Store
from feeds.build import build_feeds
from feeds.site import SiteInfo
from ingest.fulltext import MAX_TRIES
from tests.remote_helpers import rss
from tests.test_fulltext import T0, TEASER, Site, ingest, item, options, stored

SITE = SiteInfo(
    title="Rassegna di prova",
    link="https://rassegna.example.it/",
    base_url="http://127.0.0.1:8080/",
)


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    return Site(httpserver)


def untitled(link: str, text: str) -> str:
    """A Mastodon-shaped item: no title, no date, no author, only a description."""
    return f"<item><link>{link}</link><guid>{link}</guid><description>{text}</description></item>"


def test_site_rule_fills_title_author_and_date_the_entry_lacks(
    site: Site, store: Store, tmp_path: Path
) -> None:
    site.feed = rss(
        untitled(site.local("/cronaca/ponte-riaperto"), "Il ponte riapre oggi. " + TEASER),
        # Its own title and date stay; the page's byline fills the missing author.
        item("La Virtus rimonta", site.local("/sport/virtus-rimonta"), hours=2),
    )
    url = site.server.url_for("/feed.xml")
    report = ingest(store, url, options())
    assert report.new == 2 and report.full_text_ok == 2
    by_title = {a.title: a for a in store.latest_articles(10)}
    ponte = by_title["Riaperto il ponte sull'Arno dopo otto mesi"]  # the rule's title:
    assert ponte.authors == ("Marta Guidotti",)  # author:
    assert ponte.published == datetime(2026, 11, 5, 8, 15, tzinfo=UTC)  # date:, +01:00
    virtus = by_title["La Virtus rimonta"]
    assert virtus.authors == ("Luca Benvenuti",)
    assert virtus.published == T0 - timedelta(hours=2)
    assert "Il ponte riapre oggi" in stored(store)[ponte.title][1]  # the feed's text: summary

    # Remembered on the next poll: nothing changes back.
    again = ingest(store, url, options(), now=T0 + timedelta(hours=1))
    assert again.changed == 0 and again.same == 2
    assert {a.title for a in store.latest_articles(10)} == set(by_title)

    out = tmp_path / "public"
    build_feeds(store, SITE, out, fsync=False)
    published = feedparser.parse((out / "rss.xml").read_bytes()).entries
    assert {e.title for e in published} == set(by_title)
    ponte_rss = next(e for e in published if e.title == ponte.title)
    assert ponte_rss.published_parsed[:5] == (2026, 11, 5, 8, 15)
    assert "Marta Guidotti" in ponte_rss.get("author", "")


def test_site_rule_metadata_without_a_rule_changes_nothing(site: Site, store: Store) -> None:
    # 127.0.0.1 has no rule: trafilatura's body, and the entry's own (derived) title.
    site.feed = rss(untitled(site.numeric("/cultura/teatro"), "Riapre il teatro. " + TEASER))
    ingest(store, site.server.url_for("/feed.xml"), options())
    [article] = store.latest_articles(10)
    assert article.title == "Riapre il teatro" and article.authors == ()


class Flaky:
    """A page that answers 503 to its first `failures` requests, then the article."""

    def __init__(self, site: Site, failures: int) -> None:
        self.failures = failures
        self.hits = 0
        self.body = (Path(__file__).parent / "data/fulltext/cronaca-ponte.html").read_bytes()
        site.server.expect_request("/cronaca/instabile").respond_with_handler(self.serve)
        site.feed = rss(item("Riaperto il ponte", site.local("/cronaca/instabile"), hours=1))

    def serve(self, _request: Request) -> Response:
        self.hits += 1
        if self.hits <= self.failures:
            return Response("occupato", status=503)
        return Response(self.body, content_type="text/html; charset=utf-8")


def _tries(store: Store) -> tuple[bool, int]:
    with store.engine.connect() as connection:
        row = connection.execute(select(models.FetchedPage.ok, models.FetchedPage.tries)).one()
    return bool(row[0]), int(row[1])


def test_failed_page_is_tried_again_later_then_gets_the_text(site: Site, store: Store) -> None:
    flaky = Flaky(site, failures=2)
    url = site.server.url_for("/feed.xml")
    first = ingest(store, url, options())
    assert (first.full_text_ok, first.full_text_failed) == (0, 1)
    assert _tries(store) == (False, 1) and stored(store)["Riaperto il ponte"][2] == "feed"
    # Too soon: not tried again.
    ingest(store, url, options(), now=T0 + timedelta(minutes=30))
    assert flaky.hits == 1
    second = ingest(store, url, options(), now=T0 + timedelta(hours=1))
    assert flaky.hits == 2 and second.full_text_failed == 1 and _tries(store) == (False, 2)
    # The second wait is longer.
    ingest(store, url, options(), now=T0 + timedelta(hours=3))
    assert flaky.hits == 2
    third = ingest(store, url, options(), now=T0 + timedelta(hours=7, minutes=1))
    assert flaky.hits == 3 and third.full_text_ok == 1 and third.changed == 1
    text, summary, source, _ = stored(store)["Riaperto il ponte"]
    assert source == "page" and "pile centrali" in text and summary == TEASER
    assert _tries(store) == (True, 3)  # the third try gave it


def test_page_that_keeps_failing_is_tried_a_bounded_number_of_times(
    site: Site, store: Store
) -> None:
    flaky = Flaky(site, failures=100)
    url = site.server.url_for("/feed.xml")
    for hours in (0, 1, 7, 14, 30, 60):
        ingest(store, url, options(), now=T0 + timedelta(hours=hours))
    assert flaky.hits == MAX_TRIES and _tries(store) == (False, MAX_TRIES)
    assert stored(store)["Riaperto il ponte"][2] == "feed"


def test_retries_count_within_the_per_poll_limit(site: Site, store: Store) -> None:
    flaky = Flaky(site, failures=1)
    site.feed = rss(
        item("Riaperto il ponte", site.local("/cronaca/instabile"), hours=1),
        item("Riapre il teatro", site.numeric("/cultura/teatro"), hours=2),
    )
    url = site.server.url_for("/feed.xml")
    first = ingest(store, url, options(per_poll=1))
    assert first.full_text_failed == 1 and flaky.hits == 1 and "/cultura/teatro" not in site.hits
    # One page a poll: the newest entry's retry goes first, the other waits.
    second = ingest(store, url, options(per_poll=1), now=T0 + timedelta(hours=1))
    assert second.full_text_ok == 1 and flaky.hits == 2 and "/cultura/teatro" not in site.hits
    third = ingest(store, url, options(per_poll=1), now=T0 + timedelta(hours=2))
    assert third.full_text_ok == 1 and site.hits["/cultura/teatro"] == 1
