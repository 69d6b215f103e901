"""Hostile web pages for page sources, over real loopback HTTP into a real store:
redirect loops, content that is not HTML, pages with no article text. Each is one line
naming the source (or a skipped page with its reason); stored articles stay."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from db.records import SourceSpec
from db.store import Store
from ingest.fetch import Fetcher
from ingest.pipeline import IngestReport
from ingest.remote import RemoteOptions, ingest_remote_source
from tests.remote_helpers import policy
from tests.test_page_source import article_page

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
NAME = "Pagina ostile"


@dataclass
class Switch:
    body: bytes
    content_type: str = "text/html; charset=utf-8"

    def __call__(self, request: Request) -> Response:
        return Response(self.body, content_type=self.content_type)


@pytest.fixture
def page(httpserver: HTTPServer, store: Store) -> Switch:
    switch = Switch(article_page("Via libera alla nuova biblioteca", "biblioteca").encode())
    httpserver.expect_request("/notizie/biblioteca").respond_with_handler(switch)
    report = ingest(store, httpserver.url_for("/notizie/biblioteca"))
    assert report.error is None and report.new == 1
    return switch


def ingest(
    store: Store, url: str, *, urls: tuple[str, ...] = (), now: datetime = NOW
) -> IngestReport:
    spec = SourceSpec(name=NAME, kind="page", location=url)
    with Fetcher(policy()) as fetcher:
        return ingest_remote_source(store, spec, fetcher, options=RemoteOptions(urls=urls), now=now)


def snapshot(store: Store) -> list[tuple[str, str, str]]:
    return [(a.uid, a.title, a.content_html) for a in store.latest_articles(100)]


def test_redirect_loops_are_one_line(httpserver: HTTPServer, store: Store, page: Switch) -> None:
    before = snapshot(store)
    httpserver.expect_request("/giro-a").respond_with_data(
        "", status=302, headers={"Location": "/giro-b"}
    )
    httpserver.expect_request("/giro-b").respond_with_data(
        "", status=301, headers={"Location": "/giro-a"}
    )
    httpserver.expect_request("/se-stesso").respond_with_data(
        "", status=307, headers={"Location": "/se-stesso"}
    )
    for path in ("/giro-a", "/se-stesso"):
        report = ingest(store, httpserver.url_for(path), now=NOW + timedelta(hours=1))
        assert report.error is not None
        assert report.error.startswith(f'source "{NAME}": ') and "\n" not in report.error
        assert "redirects" in report.error
    # An extra article URL that loops is a skipped page; the main page is still read.
    report = ingest(
        store,
        httpserver.url_for("/notizie/biblioteca"),
        urls=(httpserver.url_for("/giro-a"),),
        now=NOW + timedelta(hours=2),
    )
    assert report.error is None
    assert [p.where for p in report.problems] == [httpserver.url_for("/giro-a")]
    assert "redirects" in report.problems[0].reason
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"\x89PNG\r\n\x1a\n" + os.urandom(4096), "image/png", id="png"),
        pytest.param(
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n" + os.urandom(2048),
            "application/pdf",
            id="pdf",
        ),
        pytest.param(
            b'{"titolo": "non una pagina", "testo": "json"}', "application/json", id="json"
        ),
        pytest.param(b"solo testo, senza alcun markup", "text/plain", id="plain-text"),
        pytest.param(os.urandom(8192), "application/octet-stream", id="random-bytes"),
        pytest.param(b"\x00" * 4096, "text/html", id="nul-bytes"),
        pytest.param(b"", "text/html", id="empty"),
        pytest.param(
            b"<!doctype html><html><head><title>Vuota</title></head><body><nav><a href='/'>Home</a>"
            b"</nav><footer>Contatti</footer></body></html>",
            "text/html",
            id="no-article-text",
        ),
        pytest.param(
            b"<html><body>" + b"<div>" * 20000 + b"ciao" + b"</div>" * 20000,
            "text/html",
            id="deep-nesting",
        ),
    ],
)
def test_pages_without_an_article(
    httpserver: HTTPServer, store: Store, page: Switch, body: bytes, content_type: str
) -> None:
    before = snapshot(store)
    page.body, page.content_type = body, content_type
    url = httpserver.url_for("/notizie/biblioteca")
    report = ingest(store, url, now=NOW + timedelta(hours=1))
    reasons = [report.error] if report.error else [str(p) for p in report.problems]
    assert len(reasons) == 1, report
    assert "\n" not in reasons[0] and "Traceback" not in reasons[0]
    assert url in reasons[0]
    assert report.new == report.changed == 0
    assert snapshot(store) == before
