"""The HTTP server over real loopback: types, ETag, Last-Modified, 304, HEAD, safety."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
import uvicorn

from rassegna.server import create_app
from tests.conftest import free_port, wait_for_http


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    out = tmp_path / "public"
    (out / "categoria" / "cronaca").mkdir(parents=True)
    (out / "rss.xml").write_text("<rss>città</rss>", encoding="utf-8")
    (out / "atom.xml").write_text("<feed/>", encoding="utf-8")
    (out / "feed.json").write_text("{}", encoding="utf-8")
    (out / "index.html").write_text("<p>indice</p>", encoding="utf-8")
    (out / "categoria" / "cronaca" / "rss.xml").write_text("<rss/>", encoding="utf-8")
    (tmp_path / "segreto.txt").write_text("no", encoding="utf-8")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(out, max_age=120), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/healthz")
    yield base, out
    server.should_exit = True
    thread.join(10)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/feed.json", "application/feed+json; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/categoria/cronaca/rss.xml", "application/rss+xml; charset=utf-8"),
    ],
)
def test_content_types(served: tuple[str, Path], path: str, content_type: str) -> None:
    base, _ = served
    response = httpx.get(base + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type


def test_body_and_cache_headers(served: tuple[str, Path]) -> None:
    base, out = served
    response = httpx.get(base + "/rss.xml")
    assert response.text == "<rss>città</rss>"
    assert response.headers["etag"].startswith('"') and not response.headers["etag"].startswith(
        "W/"
    )
    mtime = int((out / "rss.xml").stat().st_mtime)
    assert response.headers["last-modified"] == formatdate(mtime, usegmt=True)
    assert response.headers["cache-control"] == "public, max-age=120"


def test_conditional_get(served: tuple[str, Path]) -> None:
    base, out = served
    first = httpx.get(base + "/rss.xml")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    by_etag = httpx.get(base + "/rss.xml", headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.content == b""
    assert by_etag.headers["etag"] == etag
    by_date = httpx.get(base + "/rss.xml", headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304 and by_date.content == b""
    stale = httpx.get(base + "/rss.xml", headers={"If-None-Match": '"altro"'})
    assert stale.status_code == 200
    old = httpx.get(
        base + "/rss.xml", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    )
    assert old.status_code == 200
    # A changed file gets a new ETag and the old one no longer matches.
    (out / "rss.xml").write_text("<rss>nuovo</rss>", encoding="utf-8")
    changed = httpx.get(base + "/rss.xml", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.text == "<rss>nuovo</rss>"
    assert changed.headers["etag"] != etag


def test_head(served: tuple[str, Path]) -> None:
    base, _ = served
    response = httpx.head(base + "/rss.xml")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len("<rss>città</rss>".encode()))


def test_not_found_and_no_escape(served: tuple[str, Path]) -> None:
    base, _ = served
    assert httpx.get(base + "/manca.xml").status_code == 404
    assert httpx.get(base + "/../segreto.txt").status_code == 404
    assert httpx.get(base + "/%2e%2e/segreto.txt").status_code == 404
    redirect = httpx.get(base + "/categoria/cronaca")
    assert redirect.status_code == 301 and redirect.headers["location"] == "/categoria/cronaca/"
