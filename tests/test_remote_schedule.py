"""How fetch outcomes schedule a remote source: redirects adopted only when confirmed,
410 Gone, Retry-After, exponential backoff capped at 24 h, and recovery after a
multi-day outage simulated with an injected clock (real loopback HTTP throughout)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from db.records import SourceSpec, SourceState
from db.schedule import BACKOFF_CAP, JITTER_CAP, JITTER_SHARE, backoff_seconds
from db.store import Store
from ingest.fetch import Fetcher
from ingest.pipeline import IngestReport
from ingest.remote import RemoteOptions, ingest_remote_source
from tests.conftest import run_cli, write_config
from tests.remote_helpers import UpOrDown, feed_bytes, policy

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
INTERVAL = 3600


def regular(due: datetime | None, last: datetime | None, interval: int) -> bool:
    """`due` is one regular interval after `last`, give or take the scheduling jitter."""
    assert due is not None and last is not None
    return (
        timedelta(seconds=interval)
        <= due - last
        <= timedelta(seconds=interval + min(interval * JITTER_SHARE, JITTER_CAP))
    )


FEED = feed_bytes("media-images.xml")


def ingest(store: Store, url: str, now: datetime, name: str = "Fonte") -> IngestReport:
    spec = SourceSpec(name=name, kind="feed", location=url, interval_seconds=INTERVAL)
    with Fetcher(policy(total_timeout=2.0)) as fetcher:
        return ingest_remote_source(store, spec, fetcher, options=RemoteOptions(), now=now)


def empty_answer(
    httpserver: HTTPServer, path: str, status: int, headers: dict[str, str] | None = None
) -> str:
    """Make `path` answer `status` with `headers` and no body; returns its URL."""
    httpserver.expect_request(path).respond_with_data("", status=status, headers=headers)
    return httpserver.url_for(path)


def state(store: Store, name: str = "Fonte") -> SourceState:
    return next(s for s in store.source_states() if s.name == name)


# -- redirects -----------------------------------------------------------------------------


def test_permanent_redirect_is_adopted_after_three_consecutive_fetches(
    httpserver: HTTPServer, any_store: Store
) -> None:
    old, new = httpserver.url_for("/vecchio.xml"), httpserver.url_for("/nuovo.xml")
    empty_answer(httpserver, "/vecchio.xml", 301, {"Location": "/tappa"})
    empty_answer(httpserver, "/tappa", 308, {"Location": "/nuovo.xml"})
    httpserver.expect_request("/nuovo.xml").respond_with_data(FEED)
    for n in range(2):
        assert ingest(any_store, old, T0 + timedelta(hours=n)).error is None
        assert state(any_store).fetch_url is None  # not yet: seen only n + 1 times
    ingest(any_store, old, T0 + timedelta(hours=2))
    current = state(any_store)
    assert current.fetch_url == new
    assert current.url_history == (old,)
    assert current.location == old  # the configuration still says the old URL
    before = len(httpserver.log)
    ingest(any_store, old, T0 + timedelta(hours=3))
    assert [r.path for r, _ in httpserver.log[before:]] == ["/nuovo.xml"]  # straight there


def test_an_interrupted_streak_starts_again(httpserver: HTTPServer, store: Store) -> None:
    moved = {"on": True}

    def handler(_: Request) -> Response:
        if moved["on"]:
            return Response("", status=301, headers={"Location": "/nuovo.xml"})
        return Response(FEED)

    httpserver.expect_request("/vecchio.xml").respond_with_handler(handler)
    httpserver.expect_request("/nuovo.xml").respond_with_data(FEED)
    old = httpserver.url_for("/vecchio.xml")
    for n, on in enumerate([True, True, False, True, True]):
        moved["on"] = on
        ingest(store, old, T0 + timedelta(hours=n))
    assert state(store).fetch_url is None  # never three in a row
    ingest(store, old, T0 + timedelta(hours=6))
    assert state(store).fetch_url == httpserver.url_for("/nuovo.xml")


@pytest.mark.parametrize("status", [302, 307])
def test_temporary_redirects_never_change_the_url(
    httpserver: HTTPServer, store: Store, status: int
) -> None:
    empty_answer(httpserver, "/feed", status, {"Location": "/altrove"})
    httpserver.expect_request("/altrove").respond_with_data(FEED)
    for n in range(5):
        assert ingest(store, httpserver.url_for("/feed"), T0 + timedelta(hours=n)).error is None
    assert state(store).fetch_url is None
    assert store.article_count() == 3


def test_changing_the_configured_url_starts_afresh(httpserver: HTTPServer, store: Store) -> None:
    empty_answer(httpserver, "/a", 410)
    httpserver.expect_request("/b").respond_with_data(FEED)
    ingest(store, httpserver.url_for("/a"), T0)
    assert state(store).gone
    report = ingest(store, httpserver.url_for("/b"), T0 + timedelta(hours=1))
    assert report.error is None and report.new == 3
    assert not state(store).gone


# -- 410, 429, 503 ------------------------------------------------------------------------


def test_gone_stops_polling_and_shows_in_sources(httpserver: HTTPServer, tmp_path: Path) -> None:
    url = empty_answer(httpserver, "/feed", 410)
    config = write_config(
        tmp_path,
        f"""
[ingest]
allow_private_networks = true

[[sources]]
name = "Giornale chiuso"
kind = "feed"
url = "{url}"
""",
    )
    first = run_cli("--config", str(config), "ingest", "Giornale chiuso")
    assert first.returncode == 1
    assert f'source "Giornale chiuso": {url}: HTTP 410 Gone' in first.stderr + first.stdout
    assert "Traceback" not in first.stderr
    second = run_cli("--config", str(config), "ingest", "Giornale chiuso")
    assert "no longer polled" in second.stderr + second.stdout
    assert len(httpserver.log) == 1  # the second ingest did not ask again
    listing = run_cli("--config", str(config), "sources", env={"COLUMNS": "250"})
    assert "never (gone)" in listing.stdout
    import json

    rows = json.loads(run_cli("--config", str(config), "sources", "--json").stdout)
    assert rows[0]["gone"] is True and rows[0]["last_status"] == 410


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_postpones_without_counting_an_error(
    httpserver: HTTPServer, store: Store, status: int
) -> None:
    url = empty_answer(httpserver, "/feed", status, {"Retry-After": "7200"})
    report = ingest(store, url, T0)
    assert report.error is not None and "retry after" in report.error
    current = state(store)
    assert current.consecutive_errors == 0
    assert current.next_due == T0 + timedelta(hours=2)
    assert current.retry_after == T0 + timedelta(hours=2)


def test_retry_after_shorter_than_the_interval_keeps_the_interval(
    httpserver: HTTPServer, store: Store
) -> None:
    url = empty_answer(httpserver, "/feed", 429, {"Retry-After": "5"})
    ingest(store, url, T0)
    assert regular(state(store).next_due, T0, INTERVAL)


def test_cache_headers_and_ttl_lengthen_the_interval(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        FEED, headers={"Cache-Control": "public, max-age=7200"}
    )
    ingest(store, httpserver.url_for("/feed"), T0)
    assert regular(state(store).next_due, T0, 2 * 3600)
    httpserver.clear()
    httpserver.expect_request("/feed").respond_with_data(
        FEED, headers={"Cache-Control": "max-age=999999"}
    )
    ingest(store, httpserver.url_for("/feed"), T0)
    assert regular(state(store).next_due, T0, 24 * 3600)  # capped at a day


# -- backoff -------------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    delays = [backoff_seconds(600, n, salt=7) for n in range(12)]
    assert delays[0] == 600
    for n in range(1, 12):
        ideal = min(BACKOFF_CAP, 600 * 2**n)
        assert 0.8 * ideal <= delays[n] <= ideal
    assert max(delays) <= BACKOFF_CAP
    # Different sources that failed together are spread apart.
    assert len({backoff_seconds(600, 5, salt=s) for s in range(20)}) > 5


def test_server_errors_back_off_and_recover_by_themselves(
    httpserver: HTTPServer, store: Store
) -> None:
    feed = UpOrDown(FEED, up=False, status=500, error=b"guasto")
    httpserver.expect_request("/feed").respond_with_handler(feed)
    url = httpserver.url_for("/feed")
    now = T0
    gaps = []
    for _ in range(8):
        ingest(store, url, now)
        due = state(store).next_due
        assert due is not None
        gaps.append((due - now).total_seconds())
        now = due
    assert gaps[:5] == sorted(gaps[:5])  # doubling...
    assert all(0.8 * BACKOFF_CAP <= g <= BACKOFF_CAP for g in gaps[-2:])  # ...up to the cap
    assert state(store).consecutive_errors == 8  # counted, never disabled
    feed.up = True
    ingest(store, url, now)
    current = state(store)
    assert current.consecutive_errors == 0 and current.last_error is None
    assert regular(current.next_due, now, INTERVAL)


# -- outages -------------------------------------------------------------------------------


def test_three_day_network_outage_recovers_without_growing_error_counts(
    store: Store,
) -> None:
    """Four sources on one server; the server's port stops answering for three days
    (connection refused, as when the machine loses its network). Every source keeps
    polling at its interval without growing its error count, and is back to normal
    within one interval of the network returning."""
    server = HTTPServer(host="127.0.0.1")
    server.start()
    names = [f"Fonte {n}" for n in range(4)]
    urls = {}
    for name in names:
        path = "/" + name.replace(" ", "-") + ".xml"
        server.expect_request(path).respond_with_data(FEED)
        urls[name] = server.url_for(path)
    outage = (T0 + timedelta(hours=2), T0 + timedelta(days=3, hours=2))
    history: dict[str, list[tuple[datetime, bool]]] = {name: [] for name in names}
    peak = dict.fromkeys(names, 0)
    now = T0
    try:
        while now < outage[1] + timedelta(hours=6):
            down = outage[0] <= now < outage[1]
            if down and server.is_running():
                server.stop()
            elif not down and not server.is_running():
                server.start()
            dues = {s.name: s.next_due for s in store.source_states()}
            for name, url in urls.items():
                due = dues.get(name)
                if due is None or due <= now:
                    report = ingest(store, url, now, name=name)
                    history[name].append((now, report.error is None))
                    peak[name] = max(peak[name], state(store, name).consecutive_errors)
            now += timedelta(minutes=10)
    finally:
        if server.is_running():
            server.stop()
    for name in names:
        current = state(store, name)
        failures = [t for t, ok in history[name] if not ok]
        assert len(failures) >= 36  # it kept trying, at most a doubled interval apart
        # Only the first sources to notice, before most had failed, counted an error.
        assert peak[name] <= 1
        after = [t for t, ok in history[name] if ok and t >= outage[1]]
        assert after and after[0] - outage[1] <= timedelta(seconds=2 * INTERVAL)
        assert current.consecutive_errors == 0
        assert current.next_due is not None and current.last_fetch is not None
        assert regular(current.next_due, current.last_fetch, INTERVAL)


def test_one_site_down_for_three_days_backs_off_and_is_back_within_one_cap(
    httpserver: HTTPServer, store: Store
) -> None:
    feed = UpOrDown(FEED, up=True, status=503)
    httpserver.expect_request("/solo.xml").respond_with_handler(feed)
    httpserver.expect_request("/sano.xml").respond_with_data(FEED)
    url = httpserver.url_for("/solo.xml")
    healthy = httpserver.url_for("/sano.xml")
    now = T0
    returned = T0 + timedelta(days=3)
    first_success_after: datetime | None = None
    errors_seen = 0
    while now < returned + timedelta(days=2):
        feed.up = not (T0 + timedelta(hours=1) <= now < returned)
        for name, target in (("Solo", url), ("Sano", healthy)):
            due = next((s.next_due for s in store.source_states() if s.name == name), None)
            if due is None or due <= now:
                report = ingest(store, target, now, name=name)
                if name == "Solo" and report.error is None and now >= returned:
                    first_success_after = first_success_after or now
        errors_seen = max(errors_seen, state(store, "Solo").consecutive_errors)
        now += timedelta(minutes=10)
    assert errors_seen >= 5  # a site's own failure does count and back off
    assert first_success_after is not None
    assert first_success_after - returned <= timedelta(seconds=BACKOFF_CAP + 600)
    solo = state(store, "Solo")
    assert solo.consecutive_errors == 0
    assert solo.next_due is not None and solo.last_fetch is not None
    assert regular(solo.next_due, solo.last_fetch, INTERVAL)


def test_a_success_recorded_from_the_fetch_state_matches_the_full_path(any_store: Store) -> None:
    """The one-UPDATE path of a 304 (validators from the fetch state, no read) leaves the
    source exactly as the full read-modify-write path does, from a state that has
    something to reset: an error, a Retry-After, a redirect seen once."""
    from sqlalchemy import select

    from db import models
    from db.records import FetchKind, FetchOutcome

    store = any_store
    ids = [
        store.ensure_source(SourceSpec(n, "feed", f"http://127.0.0.1:9/{n}", None, INTERVAL))
        for n in ("uno", "due")
    ]
    history = [
        FetchOutcome(FetchKind.OK, 200, etag='"v1"', last_modified="L1", new_validators=True),
        FetchOutcome(FetchKind.ERROR, 500, error="HTTP 500"),
        FetchOutcome(FetchKind.THROTTLED, 429, error="429", retry_after=T0 + timedelta(hours=2)),
        FetchOutcome(FetchKind.OK, 200, new_validators=True, permanent_redirect="http://x/new"),
    ]
    for step, outcome in enumerate(history):
        for source_id in ids:
            store.record_fetch_outcome(source_id, outcome, when=T0 + timedelta(hours=step))
    when = T0 + timedelta(hours=10)
    not_modified = FetchOutcome(
        FetchKind.NOT_MODIFIED, 304, etag='"v2"', new_validators=True, min_interval=2 * INTERVAL
    )
    fast, full = ids
    state = store.fetch_state(fast)
    assert state.redirect_target == "http://x/new"
    due_fast = store.record_fetch_outcome(fast, not_modified, when=when, state=state)
    due_full = store.record_fetch_outcome(full, not_modified, when=when)
    table = models.Source.__table__
    with store.engine.connect() as connection:
        rows = {r.id: r._asdict() for r in connection.execute(select(table))}
    varying = {"id", "name", "slug", "location", "next_due", "created_at"}
    same = {k: v for k, v in rows[fast].items() if k not in varying}
    assert same == {k: v for k, v in rows[full].items() if k not in varying}
    assert same["etag"] == '"v2"' and same["last_modified"] is None  # 200 without one
    assert same["consecutive_errors"] == 0 and same["retry_after"] is None
    assert same["redirect_target"] is None and same["redirect_streak"] == 0
    assert same["claimed_by"] is None and same["last_outcome"] == "not_modified"
    for source_id, due in ((fast, due_fast), (full, due_full)):
        assert rows[source_id]["next_due"] == due
        assert regular(due, when, 2 * INTERVAL)
