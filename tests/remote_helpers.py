"""Helpers for the remote-source tests: fetch policies for loopback, the feed fixtures,
a conditional-GET handler that counts what it answered, and raw socket servers that
misbehave (never answer, drip bytes) in ways pytest-httpserver cannot."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ingest.fetch import FetchPolicy

FEEDS = Path(__file__).resolve().parent / "data" / "feeds"


def policy(**changes: Any) -> FetchPolicy:
    """A policy for loopback test servers: private addresses allowed, no host delay."""
    values: dict[str, Any] = {
        "user_agent": "rassegna-test/1 (+https://example.invalid/rassegna)",
        "allow_private_networks": True,
        "host_delay": 0.0,
        "total_timeout": 5.0,
        "connect_timeout": 2.0,
    }
    values.update(changes)
    return FetchPolicy(**values)


def rss(*items: str) -> bytes:
    """A minimal RSS 2.0 document around the given `<item>` strings."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Prova</title><link>https://prova.example/</link><description>x</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def rss_item(url: str, title: str, published: str, html: str) -> str:
    """An RSS `<item>` whose link and guid are `url`, dated `published` (RFC 822) and
    holding `html` as its description."""
    return (
        f"<item><title>{title}</title><link>{url}</link><guid>{url}</guid>"
        f"<pubDate>{published}</pubDate><description><![CDATA[{html}]]></description></item>"
    )


def feed_bytes(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def serve_feed(
    httpserver: HTTPServer, path: str, name: str, content_type: str = "application/rss+xml"
) -> str:
    """Serve the test feed `name` (tests/data/feeds) at `path`; returns its URL."""
    httpserver.expect_request(path).respond_with_data(feed_bytes(name), content_type=content_type)
    return httpserver.url_for(path)


@dataclass
class UpOrDown:
    """A werkzeug handler serving `body` while `up` is true, and an error (`status`, with
    `error` as its body) while it is false: a site that goes down and comes back."""

    body: bytes
    up: bool
    status: int
    error: bytes = b""

    def __call__(self, _request: Request) -> Response:
        if self.up:
            return Response(self.body)
        return Response(self.error, status=self.status)


@dataclass
class ConditionalFeed:
    """A werkzeug handler serving one document with validators, answering 304 when the
    request's validators match, and counting full and 304 answers."""

    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = '"v1-abc"'
    last_modified: str | None = "Thu, 05 Mar 2026 10:02:11 GMT"
    extra_headers: dict[str, str] = field(default_factory=dict)
    full: int = 0
    not_modified: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        self.requests.append(dict(request.headers))
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        matches = (self.etag is not None and inm == self.etag) or (
            self.etag is None and self.last_modified is not None and ims == self.last_modified
        )
        headers = dict(self.extra_headers)
        if self.etag:
            headers["ETag"] = self.etag
        if self.last_modified:
            headers["Last-Modified"] = self.last_modified
        if matches:
            self.not_modified += 1
            return Response(status=304, headers=headers)
        self.full += 1
        return Response(self.body, status=200, headers=headers, content_type=self.content_type)


@contextmanager
def tcp_server(serve: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A loopback TCP server running `serve(connection, stop)` for each connection in a
    thread of its own; yields its base URL and closes everything on exit."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()
    connections: list[socket.socket] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connections.append(conn)
            threading.Thread(target=serve, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()
        for conn in connections:
            conn.close()


@contextmanager
def raw_server(behaviour: str, *, interval: float = 0.2) -> Iterator[str]:
    """A loopback TCP server that misbehaves; yields its base URL.

    "silent": accepts and never answers. "drip": sends headers, then one body byte every
    `interval` seconds, forever. "drip-headers": sends the header lines one byte at a time.
    """

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        try:
            conn.recv(65536)
            if behaviour == "silent":
                stop.wait(60)
                return
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n"
            if behaviour == "drip-headers":
                for byte in head:
                    if stop.wait(interval):
                        return
                    conn.sendall(bytes([byte]))
                return
            conn.sendall(head)
            while not stop.wait(interval):
                conn.sendall(b" ")
        except OSError:
            return

    with tcp_server(serve) as base:
        yield base


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"


class Timer:
    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start
