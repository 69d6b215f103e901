"""Several daemons on one PostgreSQL store (the scale-out issue): every feed source is
fetched once per interval by exactly one of them, a killed daemon's sources are taken over,
and no article is stored twice. Real processes, a real loopback HTTP server, real PostgreSQL."""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine, text
from werkzeug import Request, Response

from db.store import Store
from tests.conftest import free_port, start_daemon, stop_daemons, wait_for_http, write_config

SOURCES = 300
INTERVAL = 5
LEASE = 10
# Generous for a loaded CI machine: three daemons importing everything, then every
# source's first fetch (a body to parse and store), on 2 shared cores.
FIRST_PASS_TIMEOUT = 120


class CountingFeeds:
    """Serves one small RSS feed per source and notes when each was fetched."""

    def __init__(self) -> None:
        self.hits: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        name = request.path.strip("/")
        with self.lock:
            self.hits[name].append(time.monotonic())
        item = (
            f"<item><title>Notizia unica della fonte {name}</title>"
            f"<link>http://127.0.0.1/{name}/1</link><guid>{name}-1</guid>"
            "<pubDate>Sun, 01 Nov 2026 08:00:00 +0000</pubDate></item>"
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{item}</channel></rss>'
        etag = f'"{name}-v1"'
        # Most polls of a real feed end in 304: the validators are honoured, as they are.
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type="application/rss+xml", headers={"ETag": etag})


@pytest.fixture
def feeds() -> Iterator[tuple[CountingFeeds, int]]:
    """One server on every loopback address: each source gets a host of its own
    (127.0.0.2, 127.0.0.3...), as real sources do, so per-host politeness (one request at
    a time, a pause between two) does not serialize them."""
    counting = CountingFeeds()
    # 60 requests a second: werkzeug's line per request would cost more than the answer.
    access_log = logging.getLogger("werkzeug")
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    server = HTTPServer(host="0.0.0.0", port=0)
    server.expect_request("").respond_with_handler(counting)
    server.start()
    try:
        yield counting, server.port
    finally:
        server.clear()
        server.stop()
        access_log.setLevel(level)


def _config(tmp_path: Path, port: int) -> Path:
    sources = "".join(
        f'\n[[sources]]\nname = "f{i:03}"\nkind = "feed"\n'
        f'url = "http://127.0.{(2 + i) // 256}.{(2 + i) % 256}:{port}/f{i:03}"\n'
        for i in range(SOURCES)
    )
    return write_config(
        tmp_path,
        f"""
[site]
title = "Scala"

[output]
dir = "public"

[scheduler]
interval = "{INTERVAL}s"
workers = 4
lease = "{LEASE}s"

[server]
enabled = false

[ingest]
allow_private_networks = true
{sources}""",
    )


def _daemon(
    config: Path, url: str, index: int, server_port: int | None = None
) -> subprocess.Popen[str]:
    settings = {"RASSEGNA_DATABASE__URL": url}
    if server_port is not None:  # this one serves /healthz
        settings.update(
            {
                "RASSEGNA_SERVER__ENABLED": "true",
                "RASSEGNA_SERVER__HOST": "127.0.0.1",
                "RASSEGNA_SERVER__PORT": str(server_port),
            }
        )
    return start_daemon(config, index, settings)


def _first_pass(counting: CountingFeeds, daemons: list[subprocess.Popen[str]]) -> None:
    """Wait until every source has been fetched once (the start-up, whatever its pace)."""
    deadline = time.monotonic() + FIRST_PASS_TIMEOUT
    while time.monotonic() < deadline:
        assert all(d.poll() is None for d in daemons), "a daemon exited during start-up"
        with counting.lock:
            if len(counting.hits) == SOURCES:
                return
        time.sleep(0.5)
    raise AssertionError(f"only {len(counting.hits)} of {SOURCES} sources fetched at start-up")


def test_three_daemons_share_the_sources(
    tmp_path: Path, feeds: tuple[CountingFeeds, int], pg_store: Store
) -> None:
    counting, port = feeds
    url = pg_store.engine.url.render_as_string(hide_password=False)
    config = _config(tmp_path, port)
    daemons = [_daemon(config, url, i) for i in range(3)]
    try:
        _first_pass(counting, daemons)
        time.sleep(INTERVAL)  # the second polls, now answered 304: the steady state
        with counting.lock:
            counting.hits.clear()
        start = time.monotonic()
        time.sleep(3 * INTERVAL)
        window = time.monotonic() - start
        # One daemon dies without a word; its claims must be taken over by the others.
        daemons[0].send_signal(signal.SIGKILL)
        daemons[0].wait(10)
        killed_at = time.monotonic()
        time.sleep(LEASE + 2 * INTERVAL)
    finally:
        outputs = stop_daemons(daemons, tmp_path)
    assert all(d.returncode in (0, -signal.SIGKILL) for d in daemons), outputs
    with counting.lock:
        hits = {name: list(times) for name, times in counting.hits.items()}
    total_in_window = sum(1 for t in hits.values() for x in t if start <= x < start + window)
    print(
        "RATE",
        total_in_window / window,
        "per s; counts",
        sorted(len(t) for t in hits.values())[:10],
    )
    assert len(hits) == SOURCES, "some sources were never fetched"
    for name, times in hits.items():
        times.sort()
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # Never fetched twice in one interval (by two daemons, or twice by one).
        assert min(gaps) >= INTERVAL * 0.75, (name, gaps)
        # None skipped: while all three ran, every interval had its fetch (a poll is due
        # one interval plus at most 10 % jitter after the last, and a tick comes every
        # second; one more interval of slack for a loaded machine).
        in_window = [t for t in times if t < start + window]
        assert len(in_window) >= window // (INTERVAL * 1.1 + 1), (name, len(in_window))
        window_gaps = [b - a for a, b in itertools.pairwise(in_window)]
        assert max(window_gaps) < 2 * INTERVAL, (name, window_gaps)
        # After the kill, every source is still polled: the dead daemon's were taken over.
        assert any(t > killed_at + LEASE for t in times), (name, "not taken over")
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*), count(DISTINCT guid) FROM articles")).one()
    engine.dispose()
    assert rows[0] == rows[1] == SOURCES


def _pg_ctl(action: str) -> None:
    """`pg_ctlcluster <version> main <action>` (stop / start), or skip when not possible."""
    clusters = sorted(Path("/etc/postgresql").glob("*/main"))
    if shutil.which("pg_ctlcluster") is None or not clusters or os.geteuid() != 0:
        pytest.skip("cannot stop PostgreSQL here (needs pg_ctlcluster and root)")
    version = clusters[-1].parent.name
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _health(port: int) -> int:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5, trust_env=False).status_code


def test_daemons_survive_a_postgres_outage_and_report_it(
    tmp_path: Path, feeds: tuple[CountingFeeds, int], pg_store: Store
) -> None:
    """PostgreSQL stopped for a few seconds, then started (a restart with a visible gap):
    /healthz answers 503 meanwhile and 200 after, the daemons recover on their own, every
    source is polled again and nothing is lost or stored twice."""
    counting, port = feeds
    url = pg_store.engine.url.render_as_string(hide_password=False)
    config = _config(tmp_path, port)
    health_port = free_port()
    daemons = [_daemon(config, url, 0, server_port=health_port), _daemon(config, url, 1)]
    during: list[int] = []
    try:
        _first_pass(counting, daemons)
        wait_for_http(f"http://127.0.0.1:{health_port}/healthz")
        before = _health(health_port)
        try:
            _pg_ctl("stop")
            stopped = time.monotonic()
            while time.monotonic() - stopped < 2 * INTERVAL:
                during.append(_health(health_port))
                time.sleep(0.5)
        finally:
            _pg_ctl("start")  # whatever happened: the other tests need it
        restarted = time.monotonic()
        after: list[int] = []
        while time.monotonic() - restarted < 60:
            after.append(_health(health_port))
            if after[-1] == 200:
                break
            time.sleep(0.5)
        time.sleep(LEASE + 2 * INTERVAL)
        assert all(d.poll() is None for d in daemons), "a daemon died with the database"
    finally:
        outputs = stop_daemons(daemons, tmp_path)
    assert all(d.returncode == 0 for d in daemons), outputs
    assert before == 200
    assert during and set(during) == {503}, during
    assert after[-1] == 200, after
    with counting.lock:
        late = {
            name
            for name, times in counting.hits.items()
            if any(t > restarted + LEASE for t in times)
        }
    # Every source is polled again after the outage, with nobody's help.
    assert len(late) == SOURCES, sorted(set(counting.hits) - late)
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*), count(DISTINCT guid) FROM articles")).one()
    engine.dispose()
    assert rows[0] == rows[1] == SOURCES
