"""Leases with a heartbeat, with real daemons on the real PostgreSQL and a real loopback
feed server that answers slowly: a daemon killed with SIGKILL has the sources it held
fetched again by another within a minute at the default lease, and a fetch slower than
the lease keeps its claim (nobody fetches that source a second time meanwhile)."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine, text
from werkzeug import Request, Response

from db.store import Store
from tests.conftest import start_daemon, stop_daemons, write_config

TAKEOVER_LIMIT = 60.0


class SlowFeeds:
    """One small RSS feed per path, answered after `delay` seconds; notes who asked (the
    daemon's User-Agent) and when each request arrived."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.hits: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        name = request.path.strip("/")
        with self.lock:
            self.hits[name].append((request.headers.get("User-Agent", ""), time.monotonic()))
        time.sleep(self.delay)
        body = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
            f"<item><title>Notizia lenta della fonte {name}</title>"
            f"<link>http://127.0.0.1/{name}/1</link><guid>{name}-1</guid>"
            "<pubDate>Sun, 01 Nov 2026 08:00:00 +0000</pubDate></item></channel></rss>"
        )
        return Response(body, content_type="application/rss+xml")

    def by(self, name: str, agent: str) -> list[float]:
        with self.lock:
            return [t for who, t in self.hits.get(name, []) if who == agent]


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    """Listens on every loopback address (each source gets a host of its own, so per-host
    politeness does not serialize the fetches), a thread per request (slow answers)."""
    access_log = logging.getLogger("werkzeug")
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    httpserver = HTTPServer(host="0.0.0.0", port=0, threaded=True)
    httpserver.start()
    try:
        yield httpserver
    finally:
        httpserver.clear()
        httpserver.stop()
        access_log.setLevel(level)


def _config(tmp_path: Path, port: int, count: int, scheduler: str = "") -> Path:
    """`count` slow feed sources polled hourly (so each is due once in a test), and an
    empty folder polled every 4 s, which makes the tick 1 s. No lease unless `scheduler`
    sets one: the default is under test."""
    (tmp_path / "vuota").mkdir()
    sources = "".join(
        f'\n[[sources]]\nname = "f{i:02}"\nkind = "feed"\ninterval = "1h"\n'
        f'url = "http://127.0.1.{2 + i}:{port}/f{i:02}"\n'
        for i in range(count)
    )
    return write_config(
        tmp_path,
        f"""
[site]
title = "Battito"

[output]
dir = "public"

[scheduler]
workers = 4
{scheduler}

[server]
enabled = false

[ingest]
allow_private_networks = true

[[sources]]
name = "Battito"
kind = "files"
path = "{tmp_path / "vuota"}"
interval = "4s"
{sources}""",
    )


def _daemon(config: Path, url: str, index: int) -> subprocess.Popen[str]:
    return start_daemon(
        config,
        index,
        {"RASSEGNA_DATABASE__URL": url, "RASSEGNA_INGEST__USER_AGENT": f"daemon{index}"},
    )


def _stop_all(daemons: list[subprocess.Popen[str]], folder: Path) -> str:
    return "\n".join(stop_daemons(daemons, folder))


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_killed_daemons_sources_are_fetched_again_within_a_minute(
    tmp_path: Path, server: HTTPServer, pg_store: Store
) -> None:
    feeds = SlowFeeds(delay=5)
    server.expect_request("").respond_with_handler(feeds)
    count = 12
    url = pg_store.engine.url.render_as_string(hide_password=False)
    config = _config(tmp_path, server.port, count)
    daemons = [_daemon(config, url, 0), _daemon(config, url, 1)]
    names = [f"f{i:02}" for i in range(count)]
    try:
        # Kill daemon0 in the middle of its fetches (each takes 5 s).
        started = _wait_until(lambda: sum(len(feeds.by(n, "daemon0")) for n in names) >= 2, 90)
        assert started, "daemon0 fetched nothing"
        daemons[0].send_signal(signal.SIGKILL)
        daemons[0].wait(10)
        killed_at = time.monotonic()
        owner = f"{socket.gethostname()}:{daemons[0].pid}"
        engine = create_engine(url)
        with engine.connect() as connection:
            held = set(
                connection.execute(
                    text("SELECT name FROM sources WHERE claimed_by = :owner"), {"owner": owner}
                ).scalars()
            )
        engine.dispose()
        assert held, "daemon0 held no claim when it was killed"
        taken_over = _wait_until(
            lambda: all(feeds.by(n, "daemon1") for n in held), TAKEOVER_LIMIT + 30
        )
        everything = _wait_until(lambda: all(feeds.hits.get(n) for n in names), 60)
        time.sleep(2)  # a double fetch, if any, would show now
        assert daemons[1].poll() is None, "daemon1 died"
    finally:
        output = _stop_all(daemons, tmp_path)
    assert taken_over, (held, dict(feeds.hits), output)
    assert everything, (dict(feeds.hits), output)
    delays = {name: feeds.by(name, "daemon1")[0] - killed_at for name in held}
    print("TAKEOVER", {name: round(delay, 1) for name, delay in sorted(delays.items())})
    assert max(delays.values()) <= TAKEOVER_LIMIT, delays
    for name in names:
        first, second = feeds.by(name, "daemon0"), feeds.by(name, "daemon1")
        # Each source once, by one daemon; twice only if daemon0 died holding it.
        assert len(first) <= 1 and len(second) <= 1, (name, first, second)
        if first and second:
            assert name in held and first[0] < killed_at, (name, held)


def test_a_fetch_slower_than_the_lease_keeps_its_claim(
    tmp_path: Path, server: HTTPServer, pg_store: Store
) -> None:
    """A 3 s lease, a 10 s fetch: without renewals the other daemon (or the same one)
    would claim the source again after 3 s and fetch it a second time."""
    feeds = SlowFeeds(delay=10)
    server.expect_request("").respond_with_handler(feeds)
    url = pg_store.engine.url.render_as_string(hide_password=False)
    config = _config(tmp_path, server.port, 1, scheduler='lease = "3s"')
    daemons = [_daemon(config, url, 0), _daemon(config, url, 1)]
    try:
        asked = _wait_until(lambda: bool(feeds.hits.get("f00")), 90)
        assert asked, "the slow source was never fetched"
        # The fetch ends 10 s after it started; then a few leases more.
        time.sleep(feeds.delay + 3 * 3)
        assert all(d.poll() is None for d in daemons), "a daemon died"
    finally:
        output = _stop_all(daemons, tmp_path)
    with feeds.lock:
        hits = list(feeds.hits["f00"])
    assert len(hits) == 1, (hits, output)
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM articles")).scalar()
    engine.dispose()
    assert stored == 1
