"""The HTTP server for the output folder: right Content-Types, strong ETags, exact
Last-Modified, and 304 answers to conditional GETs so feed readers poll cheaply."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from types import FrameType

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from rassegna.errors import RassegnaError

log = logging.getLogger("rassegna.server")


class ServerError(RassegnaError):
    """The server could not start (port taken, address not available)."""


CONTENT_TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# By file name, because rss.xml and atom.xml share a suffix but not a type.
NAMED_TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
    "opml.xml": "text/x-opml; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class _Cached:
    mtime_ns: int
    size: int
    etag: str
    body: bytes


class _FileCache:
    """File bytes and their ETag, reused while (mtime, size) stay the same."""

    def __init__(self) -> None:
        self._entries: dict[Path, _Cached] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, mtime_ns: int, size: int) -> _Cached:
        with self._lock:
            hit = self._entries.get(path)
        if hit is not None and (hit.mtime_ns, hit.size) == (mtime_ns, size):
            return hit
        body = path.read_bytes()
        entry = _Cached(mtime_ns, size, f'"{hashlib.sha256(body).hexdigest()[:32]}"', body)
        with self._lock:
            self._entries[path] = entry
        return entry


def content_type(path: Path) -> str:
    return NAMED_TYPES.get(path.name) or CONTENT_TYPES.get(
        path.suffix.lower(), "application/octet-stream"
    )


def _not_modified(request: Request, etag: str, mtime_s: int) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return int(parsedate_to_datetime(since).timestamp()) >= mtime_s
        except (TypeError, ValueError):
            return False
    return False


def create_app(output_dir: Path, *, max_age: int = 300) -> Starlette:
    """An ASGI app serving `output_dir` as is (directories serve their index.html)."""
    root = output_dir.resolve()
    cache = _FileCache()

    async def serve_file(request: Request) -> Response:
        relative = request.path_params.get("path", "")
        target = (root / relative).resolve()
        if target != root and root not in target.parents:
            return PlainTextResponse("Not Found\n", status_code=404)
        if target.is_dir():
            if relative and not relative.endswith("/"):
                return Response(status_code=301, headers={"Location": f"/{relative}/"})
            target = target / "index.html"
        try:
            st = target.stat()
            entry = cache.get(target, st.st_mtime_ns, st.st_size)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return PlainTextResponse("Not Found\n", status_code=404)
        mtime_s = st.st_mtime_ns // 1_000_000_000
        headers = {
            "ETag": entry.etag,
            "Last-Modified": formatdate(mtime_s, usegmt=True),
            "Cache-Control": f"public, max-age={max_age}",
        }
        if _not_modified(request, entry.etag, mtime_s):
            return Response(status_code=304, headers=headers)
        body = b"" if request.method == "HEAD" else entry.body
        response = Response(body, headers=headers, media_type=content_type(target))
        if request.method == "HEAD":
            response.headers["Content-Length"] = str(len(entry.body))
        return response

    async def health(_request: Request) -> Response:
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[
            Route("/healthz", health, methods=["GET"]),
            Route("/{path:path}", serve_file, methods=["GET", "HEAD"]),
        ]
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal capture: it re-raises SIGINT/SIGTERM after shutting
    down, which turns a clean stop into exit status 130 or a death by signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve_forever(app: Starlette, host: str, port: int) -> None:
    """Serve `app` until SIGINT or SIGTERM, then return normally after a graceful shutdown."""
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        raise ServerError(f"server: cannot listen on {host}:{port} (address in use?)")
