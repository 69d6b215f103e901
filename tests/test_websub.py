"""WebSub publish pings against a local hub stub over loopback (pytest-httpserver)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer

from db.records import ArticleDraft, SourceSpec
from db.store import Store
from feeds.build import build_feeds
from feeds.site import SiteInfo
from feeds.websub import announce, ping_hubs
from rassegna.config import load_settings
from rassegna.operations import build as build_operation
from tests import factories
from tests.conftest import free_port

BASE = "https://feed.example.it/"
SOURCE = SourceSpec(name="Gazzetta", kind="files", location="/tmp/gazzetta")


def draft(guid: str, title: str, category: str) -> ArticleDraft:
    return factories.draft(
        guid,
        title,
        title,
        summary="Riassunto.",
        published=datetime(2025, 5, 1, 9, tzinfo=UTC),
        category=category,
    )


DRAFTS = [draft("a.txt", "Una città più verde", "Cronaca"), draft("b.txt", "Già aperto", "Sport")]


def pings(server: HTTPServer) -> list[dict[str, list[str]]]:
    return [parse_qs(request.get_data(as_text=True)) for request, _ in server.log]


def pinged_urls(server: HTTPServer) -> list[str]:
    found = []
    for form in pings(server):
        assert form["hub.mode"] == ["publish"]
        found += form["hub.url"]
    return found


def test_changed_feeds_only_are_announced(
    store: Store, tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    site = SiteInfo(
        title="R", link="https://r.example.it/", base_url=BASE, hubs=(httpserver.url_for("/hub"),)
    )
    source_id = store.ensure_source(SOURCE)
    store.upsert_articles(source_id, DRAFTS)
    out = tmp_path / "public"

    report = build_feeds(store, site, out, fsync=False)
    results = announce(site, report)
    every = {
        BASE + f"{folder}{name}"
        for folder in ("", "categoria/cronaca/", "categoria/sport/", "fonte/gazzetta/")
        for name in ("rss.xml", "atom.xml", "feed.json")
    }
    assert sorted(pinged_urls(httpserver)) == sorted(every)  # one ping per file, no repeats
    assert results[0].failed == {}
    for request, _ in httpserver.log:
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"

    httpserver.clear_log()
    assert announce(site, build_feeds(store, site, out, fsync=False)) == []
    assert httpserver.log == []  # nothing changed, nobody pinged

    store.upsert_articles(source_id, [replace(DRAFTS[1], title="Già aperto, anzi chiuso")])
    announce(site, build_feeds(store, site, out, fsync=False))
    assert sorted(pinged_urls(httpserver)) == sorted(
        BASE + f"{folder}{name}"
        for folder in ("", "categoria/sport/", "fonte/gazzetta/")
        for name in ("rss.xml", "atom.xml", "feed.json")
    )


def test_a_failing_hub_is_retried_with_backoff(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hub").respond_with_data("giù", status=503)
    httpserver.expect_oneshot_request("/hub").respond_with_data("giù", status=502)
    httpserver.expect_request("/hub").respond_with_data("", status=202)
    pauses: list[float] = []
    [result] = ping_hubs(
        [httpserver.url_for("/hub")], [BASE + "rss.xml"], backoff=0.5, sleep=pauses.append
    )
    assert result.accepted == [BASE + "rss.xml"]
    assert len(httpserver.log) == 3
    assert pauses == [0.5, 1.0]


def test_a_hub_that_keeps_failing_is_logged_not_raised(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/hub").respond_with_data("no", status=500)
    httpserver.expect_request("/rifiuta").respond_with_data("no", status=400)
    with caplog.at_level(logging.WARNING, logger="rassegna.websub"):
        failing, refusing = ping_hubs(
            [httpserver.url_for("/hub"), httpserver.url_for("/rifiuta")],
            [BASE + "rss.xml"],
            attempts=3,
            sleep=lambda _: None,
        )
    assert failing.failed == {BASE + "rss.xml": "HTTP 500"}
    assert refusing.failed == {BASE + "rss.xml": "HTTP 400"}
    hits = [r.path for r, _ in httpserver.log]
    assert hits.count("/hub") == 3 and hits.count("/rifiuta") == 1  # a 4xx is not retried
    assert "publish ping for https://feed.example.it/rss.xml failed: HTTP 500" in caplog.text


def test_an_unreachable_hub_does_not_hold_up_the_others(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hub").respond_with_data("", status=204)
    dead = f"http://127.0.0.1:{free_port()}/hub"  # nothing listens there
    urls = [BASE + f"categoria/c{n}/rss.xml" for n in range(20)]
    started = time.monotonic()
    dead_report, live_report = ping_hubs(
        [dead, httpserver.url_for("/hub")], urls, backoff=0.05, timeout=2
    )
    assert time.monotonic() - started < 5
    assert live_report.accepted == urls
    assert not dead_report.accepted
    assert len(dead_report.failed) == 20
    assert sum(v == "skipped: hub unreachable" for v in dead_report.failed.values()) == 19


def test_the_build_command_pings_the_configured_hubs(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    config = tmp_path / "rassegna.toml"
    config.write_text(
        f"""
[site]
base_url = "{BASE}"
[output]
dir = "public"
[database]
url = "sqlite:///state/r.db"
[websub]
hubs = ["{httpserver.url_for("/hub")}"]
""",
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    store = Store.open(settings.database_url)
    try:
        store.upsert_articles(store.ensure_source(SOURCE), DRAFTS[:1])
        report = build_operation(settings, store)
    finally:
        store.close()
    assert report.written
    assert BASE + "atom.xml" in pinged_urls(httpserver)
    atom = (tmp_path / "public" / "atom.xml").read_text("utf-8")
    assert f'href="{httpserver.url_for("/hub")}" rel="hub"' in atom
