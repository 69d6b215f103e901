"""Polling intervals: `interval = "auto"` follows how often a source publishes, and no
source is polled more often than its server asks (pure decisions of db.schedule, then
the real daemon against a loopback server)."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from db.schedule import WEEK, adaptive_interval, interval_in_force
from ingest.fetch import server_wait
from tests.conftest import REPO, run_cli, spawn_run, write_config
from tests.remote_helpers import rss

HOUR = 3600


def test_adaptive_interval_is_a_week_over_the_entries_clamped() -> None:
    assert adaptive_interval(70, 300, 24 * HOUR) == 8640  # 2.4 hours
    assert adaptive_interval(7, 300, 24 * HOUR) == 24 * HOUR
    assert adaptive_interval(0, 300, 24 * HOUR) == 24 * HOUR  # nothing: the maximum
    assert adaptive_interval(10_000, 300, 24 * HOUR) == 300  # never under the minimum
    assert adaptive_interval(3, 300, 12 * HOUR) == 12 * HOUR
    for n in range(1, 3000):
        assert 300 <= adaptive_interval(n, 300, 24 * HOUR) <= 24 * HOUR
        assert adaptive_interval(n, 1, WEEK) == WEEK // n


def test_the_server_is_never_asked_more_often_than_it_wants() -> None:
    choice = interval_in_force(600, None)
    assert (choice.seconds, choice.reason) == (600, "configured")
    choice = interval_in_force(600, 1800)
    assert (choice.seconds, choice.reason) == (1800, "server")
    choice = interval_in_force(600, 300)
    assert (choice.seconds, choice.reason) == (600, "configured")
    # A server's wait is bounded by max_interval.
    choice = interval_in_force(600, 10 * 24 * HOUR, max_seconds=6 * HOUR)
    assert (choice.seconds, choice.reason) == (6 * HOUR, "server")
    choice = interval_in_force(600, None, auto=True, entries_last_week=70)
    assert (choice.seconds, choice.reason) == (8640, "adaptive")
    choice = interval_in_force(600, 4 * HOUR, auto=True, entries_last_week=70)
    assert (choice.seconds, choice.reason) == (4 * HOUR, "server")


def _week_feed(n: int) -> bytes:
    """`n` items published evenly over the last seven days."""
    now = datetime.now(UTC)
    step = timedelta(seconds=WEEK - 3600) / n
    return rss(
        *(
            f"<item><title>Notizia numero {i}</title><guid>n-{i}</guid>"
            f"<link>https://prova.example/n/{i}</link>"
            f"<description>Testo della notizia {i}.</description>"
            f"<pubDate>{format_datetime(now - step * i)}</pubDate></item>"
            for i in range(n)
        )
    )


CONFIG = """
[site]
title = "Prova"
base_url = "http://127.0.0.1:8080/"

[database]
url = "sqlite:///{db}"

[output]
dir = "{out}"

[server]
enabled = false

[ingest]
allow_private_networks = true
host_delay = 0

[scheduler]
{scheduler}

[[sources]]
name = "Agenzia"
kind = "feed"
url = "{url}"
{source}
"""


def _config(tmp_path: Path, url: str, scheduler: str = "", source: str = "") -> Path:
    return write_config(
        tmp_path,
        CONFIG.format(
            db=tmp_path / "r.db",
            out=tmp_path / "public",
            url=url,
            scheduler=scheduler,
            source=source,
        ),
    )


def test_daemon_polls_an_adaptive_source_every_2_4_hours(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        _week_feed(70), content_type="application/rss+xml"
    )
    config = _config(
        tmp_path,
        httpserver.url_for("/feed.xml"),
        scheduler='min_interval = "5m"\nmax_interval = "24h"',
        source='interval = "auto"',
    )
    done = run_cli("--config", str(config), "run", "--once")
    assert done.returncode == 0, done.stderr
    listed = run_cli("--config", str(config), "sources", "--json")
    source = json.loads(listed.stdout)[0]
    assert source["articles"] == 70
    assert (source["interval"], source["interval_reason"]) == ("2h24m", "adaptive")
    wait = datetime.fromisoformat(source["next_due"]) - datetime.fromisoformat(source["last_fetch"])
    # 7 days / 70 entries, plus the scheduling jitter (at most two minutes).
    assert timedelta(hours=2.4) <= wait <= timedelta(hours=2.4, minutes=2)


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Cache-Control": "public, max-age=3"}, "server: Cache-Control max-age=3"),
        ({"Retry-After": "3"}, "server: Retry-After"),
    ],
)
def test_daemon_waits_what_the_server_asks(
    tmp_path: Path, httpserver: HTTPServer, headers: dict[str, str], why: str
) -> None:
    """Time runs short through configuration: a one-second interval against a server
    asking for three seconds on each 200. The daemon must leave at least three seconds
    between polls, and `sources` names the header it obeyed."""
    hits: list[float] = []
    lock = threading.Lock()

    def answer(_request: Request) -> Response:
        with lock:
            hits.append(time.monotonic())
        return Response(_week_feed(3), content_type="application/rss+xml", headers=headers)

    httpserver.expect_request("/feed.xml").respond_with_handler(answer)
    config = _config(tmp_path, httpserver.url_for("/feed.xml"), scheduler='interval = "1s"')
    process = spawn_run(config, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(hits) < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert len(hits) >= 3, err[-2000:]
    gaps = [b - a for a, b in itertools.pairwise(hits)]
    # Polled again, but never within the three seconds the server asked for (the
    # configured one second alone would poll every second).
    assert all(gap >= 2.9 for gap in gaps), gaps
    assert all(gap < 3 + 3 for gap in gaps), gaps
    listed = json.loads(run_cli("--config", str(config), "sources", "--json").stdout)[0]
    assert (listed["interval"], listed["interval_reason"]) == ("3s", why)
    status = json.loads(run_cli("--config", str(config), "status", "--json").stdout)
    assert status["sources"][0]["interval_reason"] == why


def test_the_wait_names_the_header_that_asked_for_it() -> None:
    from db.records import FetchKind, FetchOutcome
    from db.schedule import SourceSchedule, decide_fetch

    when = datetime(2026, 3, 1, tzinfo=UTC)
    source = SourceSchedule(source_id=1, url="http://x/", interval_seconds=600)
    asked = FetchOutcome(
        kind=FetchKind.OK, status=200, min_interval=1800, min_interval_origin="RSS ttl"
    )
    values = decide_fetch(source, asked, when).values
    assert (values["interval_used"], values["interval_reason"]) == (1800, "server")
    assert (values["min_interval_seconds"], values["min_interval_origin"]) == (1800, "RSS ttl")
    # A later 304 without a hint keeps the stored bound and its origin.
    held = SourceSchedule(
        source_id=1,
        url="http://x/",
        interval_seconds=600,
        min_interval_seconds=1800,
        min_interval_origin="RSS ttl",
    )
    later = decide_fetch(held, FetchOutcome(kind=FetchKind.NOT_MODIFIED, status=304), when)
    assert "min_interval_origin" not in later.values
    assert held.interval(1800, "RSS ttl").why == "server: RSS ttl"
    assert interval_in_force(600, 1800, origin="Expires").why == "server: Expires"
    assert interval_in_force(3600, 1800, origin="Expires").why == "configured"


HEADER_DATE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@given(
    max_age=st.one_of(st.none(), st.integers(0, 10**6)),
    retry=st.one_of(st.none(), st.integers(0, 10**6)),
    expires=st.one_of(st.none(), st.integers(-3600, 10**6)),
)
def test_server_wait_is_the_longest_header_named(
    max_age: int | None, retry: int | None, expires: int | None
) -> None:
    headers = httpx.Headers({"Date": format_datetime(HEADER_DATE, usegmt=True)})
    if max_age is not None:
        headers["Cache-Control"] = f"public, max-age={max_age}"
    if retry is not None:
        headers["Retry-After"] = str(retry)
    if expires is not None:
        headers["Expires"] = format_datetime(HEADER_DATE + timedelta(seconds=expires), usegmt=True)
    asked: list[tuple[int, str]] = []
    if max_age is not None:
        asked.append((max_age, f"Cache-Control max-age={max_age}"))
    elif expires is not None and expires > 0:
        asked.append((expires, "Expires"))  # max-age wins over Expires (RFC 9111)
    if retry:
        asked.append((min(retry, 7 * 24 * HOUR), "Retry-After"))
    asked = [a for a in asked if a[0] > 0]
    wait = server_wait(headers, HEADER_DATE)
    if not asked:
        assert wait is None
    else:
        assert wait is not None and wait[0] == max(a[0] for a in asked)
        assert wait in asked


@pytest.mark.parametrize("value", ["auto", "AUTO"])
def test_auto_is_accepted_in_both_places(tmp_path: Path, value: str) -> None:
    from rassegna.config import load_settings

    config = _config(
        tmp_path,
        "http://127.0.0.1:9/feed.xml",
        scheduler=f'interval = "{value}"',
    )
    settings = load_settings(config)
    assert settings.scheduler.interval_auto and settings.is_adaptive(settings.sources[0])
    assert settings.scheduler.interval == 600
    bad = _config(tmp_path, "http://127.0.0.1:9/f", scheduler='min_interval = "2d"')
    done = run_cli("--config", str(bad), "check")
    assert done.returncode == 1
    assert "min_interval is longer than max_interval" in done.stderr


def test_retry_after_is_bounded_by_max_interval() -> None:
    from db.records import FetchKind, FetchOutcome
    from db.schedule import SourceSchedule, decide_fetch

    when = datetime(2026, 3, 1, tzinfo=UTC)
    asked = when + timedelta(days=3)
    outcome = FetchOutcome(kind=FetchKind.THROTTLED, status=429, retry_after=asked)
    source = SourceSchedule(source_id=1, url="http://x/", interval_seconds=600)
    assert decide_fetch(source, outcome, when).next_due == when + timedelta(hours=24)
    bounded = SourceSchedule(
        source_id=1, url="http://x/", interval_seconds=600, interval_max=6 * HOUR
    )
    assert decide_fetch(bounded, outcome, when).next_due == when + timedelta(hours=6)
    short = FetchOutcome(
        kind=FetchKind.THROTTLED, status=503, retry_after=when + timedelta(hours=1)
    )
    assert decide_fetch(source, short, when).next_due == when + timedelta(hours=1)
