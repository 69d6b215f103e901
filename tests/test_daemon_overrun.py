"""A tick longer than its interval: the daemon says so once, with how long it took, and
APScheduler's line per skipped tick stays out of the log. A real `rassegna run` process,
a real loopback feed server that answers slowly."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from rassegna.tick_overruns import TickOverruns
from tests.conftest import write_config

SLOW_SECONDS = 4.0
FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Lenta</title>'
    "<item><title>Una notizia che arriva piano</title><link>http://127.0.0.1/lenta/1</link>"
    "<guid>lenta-1</guid><pubDate>Sun, 01 Nov 2026 08:00:00 +0000</pubDate></item>"
    "</channel></rss>"
)


class SlowFeed:
    """Answers each request after SLOW_SECONDS and counts the answers given."""

    def __init__(self) -> None:
        self.answered = 0
        self.lock = threading.Lock()

    def __call__(self, _request: Request) -> Response:
        time.sleep(SLOW_SECONDS)
        with self.lock:
            self.answered += 1
        return Response(FEED, content_type="application/rss+xml")


@pytest.fixture
def slow_feed(httpserver: HTTPServer) -> Iterator[tuple[SlowFeed, str]]:
    feed = SlowFeed()
    httpserver.expect_request("/lenta").respond_with_handler(feed)
    yield feed, httpserver.url_for("/lenta")


def test_an_overrunning_tick_is_reported_once(
    tmp_path: Path, slow_feed: tuple[SlowFeed, str]
) -> None:
    feed, url = slow_feed
    # An interval of 4 s gives a tick of 1 s; each fetch takes 4 s, so every tick that
    # fetches overruns, and several ticks are skipped meanwhile.
    config = write_config(
        tmp_path,
        f"""
[site]
title = "Lenta"

[output]
dir = "public"

[server]
enabled = false

[ingest]
allow_private_networks = true

[[sources]]
name = "Lenta"
kind = "feed"
url = "{url}"
interval = "4s"
""",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASSEGNA_")}
    env["RASSEGNA_STATE__DIR"] = str(tmp_path / "var")
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "rassegna", "--config", str(config), "run"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        # Two slow fetches at least: one long tick or two, never a line per second.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text()
            with feed.lock:
                if feed.answered >= 2:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the feed was not fetched twice: {log_path.read_text()}")
        time.sleep(1.5)  # the scheduler keeps trying to start ticks meanwhile
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(30)
    output = log_path.read_text()
    assert process.returncode == 0, output
    assert "maximum number of running instances" not in output
    warnings = re.findall(
        r"WARNING rassegna\.daemon: tick took ([\d.]+)s, longer than its 1s interval "
        r"\((\d+) ticks skipped\)",
        output,
    )
    assert len(warnings) == 1, output
    took, skipped = float(warnings[0][0]), int(warnings[0][1])
    assert took >= SLOW_SECONDS
    assert skipped >= 2


def test_overruns_within_the_period_are_folded_into_the_next_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    overruns = TickOverruns(every=600)
    with caplog.at_level(logging.WARNING, logger="rassegna.daemon"):
        overruns.finished(0.5, 1, now=100.0)  # within its interval: nothing to say
        overruns.finished(7.25, 1, now=200.0)
        overruns.finished(9.5, 1, now=300.0)
        overruns.finished(3.0, 1, now=400.0)
        overruns.finished(2.0, 1, now=801.0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "tick took 7.2s, longer than its 1s interval (0 ticks skipped)",
        "tick took 2.0s, longer than its 1s interval (0 ticks skipped); 2 more overran "
        "since the last such warning, the longest 9.5s",
    ]
