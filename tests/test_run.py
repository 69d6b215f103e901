"""`rassegna run` as `make run` starts it: a real process that ingests the bundled examples,
builds the feeds, serves them over loopback, and stops cleanly on SIGINT or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.conftest import REPO, free_port, run_once, wait_for_http


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASSEGNA_")}
    env.update(
        {
            "RASSEGNA_STATE__DIR": str(tmp_path / "var"),
            "RASSEGNA_OUTPUT__DIR": str(tmp_path / "var" / "public"),
            "RASSEGNA_SERVER__PORT": str(port),
            "RASSEGNA_SITE__BASE_URL": base,
            "RASSEGNA_SITE__LINK": base,
        }
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rassegna",
            "--config",
            str(REPO / "config" / "rassegna.toml"),
            "run",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_http(base + "healthz", timeout=60)
        # The server answers at once; the first tick publishes the feeds a moment later.
        deadline = time.monotonic() + 30
        while httpx.get(base + "rss.xml").status_code != 200:
            assert time.monotonic() < deadline, "the first cycle did not publish rss.xml"
            time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_serves_the_examples_as_valid_feeds(daemon: tuple[subprocess.Popen[str], str]) -> None:
    _, base = daemon
    for name in ("rss.xml", "atom.xml"):
        response = httpx.get(base + name)
        assert response.status_code == 200
        feed = feedparser.parse(response.content)
        assert feed.bozo == 0, feed.get("bozo_exception")
        assert len(feed.entries) >= 6
        titles = " ".join(entry.title for entry in feed.entries)
        assert "Città" in titles and "perché" in titles and "d'autunno" in titles
        assert feed.feed.get("language") == "it"
        # Conditional GET with the validators the server gave.
        again = httpx.get(
            base + name,
            headers={
                "If-None-Match": response.headers["etag"],
                "If-Modified-Since": response.headers["last-modified"],
            },
        )
        assert again.status_code == 304 and again.content == b""
        by_date = httpx.get(
            base + name, headers={"If-Modified-Since": response.headers["last-modified"]}
        )
        assert by_date.status_code == 304
    index = httpx.get(base)
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    category = feedparser.parse(httpx.get(base + "categoria/cronaca/rss.xml").content)
    assert category.bozo == 0 and len(category.entries) == 3


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stops_cleanly(daemon: tuple[subprocess.Popen[str], str], signum: int) -> None:
    process, _ = daemon
    process.send_signal(signum)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output


def test_run_once_exits(tmp_path: Path) -> None:
    result = run_once(tmp_path)
    assert result.returncode == 0, result.stderr
    feed = feedparser.parse((tmp_path / "out" / "atom.xml").read_bytes())
    assert feed.bozo == 0 and len(feed.entries) >= 6
