"""A real feed reader: Debian's newsboat subscribes to feeds served by `rassegna serve`'s app
over loopback, stores every item with its accents, and polls again with conditional GETs
that the server answers 304 (counted server-side)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
import uvicorn
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from db.store import Store
from rassegna.server import create_app
from tests.conftest import free_port, wait_for_http
from tests.published import TITLES, publish

NEWSBOAT = shutil.which("newsboat")
pytestmark = pytest.mark.skipif(
    NEWSBOAT is None,
    reason="newsboat is not installed (Debian package newsboat; .ci/run installs it)",
)
FEEDS = ("rss.xml", "atom.xml", "categoria/cronaca/rss.xml", "fonte/gazzetta-del-lago/atom.xml")


class StatusLog:
    """HTTP middleware keeping (path, status) of every response, for the 304 count."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    async def __call__(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        with self._lock:
            self.seen.append((request.url.path, response.status_code))
        return response


@pytest.fixture
def served(tmp_path: Path, store: Store) -> Iterator[tuple[str, Path, StatusLog]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    out = tmp_path / "public"
    publish(store, out, base, items_per_feed=20)
    log = StatusLog()
    app = BaseHTTPMiddleware(create_app(out, max_age=600), dispatch=log)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_http(base + "healthz")
    yield base, out, log
    server.should_exit = True
    thread.join(10)


def reload(tmp_path: Path, base: str) -> None:
    assert NEWSBOAT is not None
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    urls = tmp_path / "urls"
    urls.write_text("".join(f"{base}{feed}\n" for feed in FEEDS), encoding="utf-8")
    config = tmp_path / "config"
    config.write_text('reload-threads 2\nuser-agent "rassegna-test"\n', encoding="utf-8")
    env = {
        **os.environ,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local"),
    }
    env.pop("http_proxy", None)
    env.pop("HTTP_PROXY", None)
    done = subprocess.run(
        [
            NEWSBOAT,
            "-u",
            str(urls),
            "-c",
            str(tmp_path / "cache.db"),
            "-C",
            str(config),
            "-x",
            "reload",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_newsboat_reads_every_item_and_polls_with_304(
    tmp_path: Path, served: tuple[str, Path, StatusLog]
) -> None:
    base, out, log = served
    log.seen.clear()  # the fixture's /healthz probe
    reload(tmp_path, base)
    first = Counter(status for _, status in log.seen)
    assert first[200] == len(FEEDS), log.seen

    with sqlite3.connect(tmp_path / "cache.db") as db:
        rows = db.execute("SELECT feedurl, title, guid, content FROM rss_item").fetchall()
        feeds = dict(db.execute("SELECT rssurl, title FROM rss_feed").fetchall())
    assert feeds[base + "rss.xml"] == "Rassegna del Lago"
    # newsboat keys items by guid across all its feeds, and an article has the same id in
    # every feed that lists it, so it is stored once: check by guid, whichever feed won.
    stored = {guid: title for _, title, guid, _ in rows}
    assert len(stored) == len(rows)
    for feed in FEEDS:
        # Every item the published document holds, with its title, accents intact.
        published = feedparser.parse((out / feed).read_bytes())
        assert published.bozo == 0
        assert published.entries
        for entry in published.entries:
            assert stored.get(entry.id) == entry.title, (feed, entry.id)
    assert set(stored.values()) == set(TITLES)  # "perché", "già", "«Così non va»" and all
    content = next(c for _, t, _, c in rows if "caffè" in t)
    assert "perché se ne parla così tanto in città" in content

    # Polling again: newsboat sends the ETag / Last-Modified it kept; nothing changed, so
    # every feed answers 304 and the cache keeps its items. newsboat 2.21 loses the
    # validators of a feed's very first fetch (it updates the feed's row before inserting
    # it; its debug log shows "fetch_lastmodified: t = 0" on the second run), so the
    # second poll is unconditional and the third is the first conditional one.
    reload(tmp_path, base)
    log.seen.clear()
    reload(tmp_path, base)
    assert Counter(status for _, status in log.seen) == Counter({304: len(FEEDS)}), log.seen
    with sqlite3.connect(tmp_path / "cache.db") as db:
        assert db.execute("SELECT count(*) FROM rss_item").fetchone()[0] == len(rows)
