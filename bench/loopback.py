"""A feed server for the polling benchmarks, run as its own process (`python -m
bench.loopback`), bound to 0.0.0.0 so every loopback address 127.0.0.x reaches it.

Every path is a feed: the first GET gets a one-item RSS document with an ETag, a GET with
that ETag in If-None-Match gets `304 Not Modified`. `GET /__count` answers the number of
feed requests served so far (JSON), so a benchmark can count polls from outside. HTTP/1.1
with keep-alive, one thread per connection. The chosen port is printed on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

_COUNT = [0, 0]  # [requests, 304 answers]
_LOCK = threading.Lock()


def _feed(name: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Fonte {name}</title><link>http://example.it/{name}</link>"
        f"<description>Fonte di prova {name}</description>"
        f"<item><title>Notizia unica della fonte {name}</title>"
        f"<link>http://example.it/{name}/1</link><guid>{name}-1</guid>"
        "<pubDate>Sun, 01 Nov 2026 08:00:00 +0000</pubDate>"
        "<description>Il consiglio comunale ha approvato il bilancio.</description>"
        "</item></channel></rss>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        name = self.path.strip("/").split("?")[0] or "root"
        if name == "__count":
            with _LOCK:
                body = json.dumps({"requests": _COUNT[0], "not_modified": _COUNT[1]}).encode()
            self._answer(200, body, {"Content-Type": "application/json"})
            return
        etag = f'"{name}-v1"'
        with _LOCK:
            _COUNT[0] += 1
            if self.headers.get("If-None-Match") == etag:
                _COUNT[1] += 1
        if self.headers.get("If-None-Match") == etag:
            self._answer(304, b"", {"ETag": etag})
        else:
            self._answer(200, _feed(name), {"ETag": etag, "Content-Type": "application/rss+xml"})

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def main() -> None:
    server = _Server(("0.0.0.0", 0), _Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


class LoopbackFeeds:
    """`with LoopbackFeeds() as feeds:` the server in a subprocess; `feeds.port`."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> LoopbackFeeds:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.loopback"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        return self

    def count(self) -> dict[str, int]:
        import httpx

        answer = httpx.get(f"http://127.0.0.1:{self.port}/__count", timeout=10, trust_env=False)
        counts: dict[str, int] = answer.json()
        return counts

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


if __name__ == "__main__":
    main()
