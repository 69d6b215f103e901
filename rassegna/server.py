"""The HTTP server for the output folder: right Content-Types, strong ETags, exact
Last-Modified, and 304 answers to conditional GETs so feed readers poll cheaply.

A file with a gzip twin (`rss.xml.gz`, written by the build) is sent compressed to a client
that accepts gzip, with `Content-Encoding: gzip`; every such file says `Vary:
Accept-Encoding`, so a cache keeps the two apart. The two representations have their own
strong ETags and share the file's `Last-Modified`. With WebSub hubs configured, feeds carry
`Link: <hub>; rel="hub", <self>; rel="self"` headers (WebSub §4 discovery).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from types import FrameType
from urllib.parse import quote

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.query import MAX_QUERY_CHARS
from rassegna.config import Settings
from rassegna.errors import RassegnaError
from rassegna.search import SearchFeed
from rassegna.status_route import status_route

log = logging.getLogger("rassegna.server")


class ServerError(RassegnaError):
    """The server could not start (port taken, address not available)."""


CONTENT_TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xsl": "application/xslt+xml; charset=utf-8",
    ".gz": "application/gzip",
}
# RSS and Atom go out as application/xml, the type under which browsers apply their
# stylesheet (feed.xsl) instead of showing the source; feed readers, feedparser and the
# W3C validator take them as feeds all the same (README, "Feeds in a browser").
FEED_XML_TYPE = "application/xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
# By file name: opml.xml and feed.json have a type of their own.
NAMED_TYPES = {
    "rss.xml": FEED_XML_TYPE,
    "atom.xml": FEED_XML_TYPE,
    "feed.json": "application/feed+json; charset=utf-8",
    "opml.xml": "text/x-opml; charset=utf-8",
}
FEED_NAMES = ("rss.xml", "atom.xml", "feed.json")
GZIP_SUFFIX = ".gz"


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


def accepts_gzip(request: Request) -> bool:
    """Whether Accept-Encoding allows gzip (present, and not with q=0)."""
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        quality = params.strip().lower().removeprefix("q=").strip() if params else "1"
        try:
            return float(quality) > 0
        except ValueError:
            return True
    return False


def link_header(relative: str, hubs: Sequence[str], base_url: str | None) -> str | None:
    """The WebSub discovery `Link` value of a feed file, or None for other files."""
    if not hubs or base_url is None or relative.rsplit("/", 1)[-1] not in FEED_NAMES:
        return None
    self_url = base_url.rstrip("/") + "/" + relative.lstrip("/")
    return ", ".join([*(f'<{hub}>; rel="hub"' for hub in hubs), f'<{self_url}>; rel="self"'])


HealthCheck = Callable[[], tuple[bool, dict[str, object]]]


def create_app(
    output_dir: Path,
    *,
    max_age: int = 300,
    health: HealthCheck | None = None,
    metrics: Callable[[], bytes] | None = None,
    hubs: Sequence[str] = (),
    base_url: str | None = None,
    search: Callable[[str], bytes] | None = None,
    search_page: Callable[[str], tuple[int, bytes]] | None = None,
    status: Callable[[], bytes] | None = None,
) -> Starlette:
    """An ASGI app serving `output_dir` as is (directories serve their index.html).

    `max_age` (seconds, from the polling interval) goes into `Cache-Control`. `/healthz`
    answers 200 or 503 with a JSON body from `health` (always 200 without one); `/metrics`
    serves the Prometheus text of `metrics` when given. `hubs` and `base_url` (the public
    URL of the output folder, `site.base_url`) add the WebSub `Link` header to feeds.
    `search` (a query → Atom bytes, raising ValueError for a query it refuses) answers
    `GET /cerca?q=...`; without it the path is a file like any other. `search_page` (a
    query → HTTP status and HTML) answers `GET /ricerca?q=...` for people. `status`
    (`rassegna.status.StatusPage`) answers `GET /stato`, never cached.
    """
    routes = [Route("/healthz", _health_route(health), methods=["GET", "HEAD"])]
    if metrics is not None:
        routes.append(Route("/metrics", _metrics_route(metrics), methods=["GET"]))
    if search is not None:
        routes.append(Route("/cerca", _search_route(search, max_age), methods=["GET", "HEAD"]))
    if search_page is not None:
        routes.append(
            Route("/ricerca", _search_page_route(search_page, max_age), methods=["GET", "HEAD"])
        )
    if status is not None:
        routes.append(Route("/stato", status_route(status), methods=["GET", "HEAD"]))
    serve_file = _file_route(output_dir.resolve(), max_age, tuple(hubs), base_url)
    routes.append(Route("/{path:path}", serve_file, methods=["GET", "HEAD"]))
    return Starlette(routes=routes, middleware=[Middleware(_NoSniff)])


def _file_route(
    root: Path, max_age: int, hub_list: tuple[str, ...], base_url: str | None
) -> Callable[[Request], Awaitable[Response]]:
    """The files of `root`, with validators, their gzip twin when the client takes it, and
    the WebSub `Link` header on feeds."""
    cache = _FileCache()

    async def serve_file(request: Request) -> Response:
        relative = request.path_params.get("path", "")
        target = (root / relative).resolve()
        if target != root and root not in target.parents:
            return PlainTextResponse("Not Found\n", status_code=404)
        # Dotfiles are ours (the build state), not the readers'.
        if any(part.startswith(".") for part in target.relative_to(root).parts):
            return PlainTextResponse("Not Found\n", status_code=404)
        if target.is_dir():
            if relative and not relative.endswith("/"):
                query = request.url.query
                location = f"/{quote(relative)}/" + (f"?{query}" if query else "")
                return Response(status_code=301, headers={"Location": location})
            target = target / "index.html"
        try:
            st = target.stat()
            entry = cache.get(target, st.st_mtime_ns, st.st_size)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return PlainTextResponse("Not Found\n", status_code=404)
        mtime_s = st.st_mtime_ns // 1_000_000_000
        headers = {
            "Last-Modified": formatdate(mtime_s, usegmt=True),
            "Cache-Control": f"public, max-age={max_age}",
        }
        twin = target.with_name(target.name + GZIP_SUFFIX)
        encoded = False
        if target.suffix != GZIP_SUFFIX:
            try:
                twin_st = twin.stat()
            except OSError:
                twin_st = None
            # A twin older than its file is stale (the file was replaced by hand): unused.
            if twin_st is not None and twin_st.st_mtime_ns >= st.st_mtime_ns:
                headers["Vary"] = "Accept-Encoding"
                if accepts_gzip(request):
                    entry = cache.get(twin, twin_st.st_mtime_ns, twin_st.st_size)
                    encoded = True
        headers["ETag"] = entry.etag
        if encoded:
            headers["Content-Encoding"] = "gzip"
        link = link_header(str(target.relative_to(root)), hub_list, base_url)
        if link is not None:
            headers["Link"] = link
        if _not_modified(request, entry.etag, mtime_s):
            return Response(status_code=304, headers=headers)
        body = b"" if request.method == "HEAD" else entry.body
        response = Response(body, headers=headers, media_type=content_type(target))
        if request.method == "HEAD":
            response.headers["Content-Length"] = str(len(entry.body))
        return response

    return serve_file


def _health_route(health: HealthCheck | None) -> Callable[[Request], Awaitable[Response]]:
    async def healthz(_request: Request) -> Response:
        if health is None:
            return JSONResponse({"ok": True})
        ok, detail = await run_in_threadpool(health)
        return JSONResponse({"ok": ok, **detail}, status_code=200 if ok else 503)

    return healthz


def _metrics_route(render: Callable[[], bytes]) -> Callable[[Request], Awaitable[Response]]:
    async def metrics_page(_request: Request) -> Response:
        body = await run_in_threadpool(render)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return metrics_page


def _search_route(
    search: Callable[[str], bytes], max_age: int
) -> Callable[[Request], Awaitable[Response]]:
    async def answer(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        # Checked before any work: the length cap is what keeps a request cheap.
        if not query:
            return PlainTextResponse("Missing search: use /cerca?q=words\n", status_code=400)
        if len(query) > MAX_QUERY_CHARS:
            return PlainTextResponse(
                f"Search too long: at most {MAX_QUERY_CHARS} characters\n", status_code=400
            )
        try:
            body = await run_in_threadpool(search, query)
        except ValueError as exc:
            return PlainTextResponse(f"Bad search: {exc}\n", status_code=400)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": f"public, max-age={min(max_age, 300)}"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        content = b"" if request.method == "HEAD" else body
        return Response(content, headers=headers, media_type=ATOM_TYPE)

    return answer


def _search_page_route(
    page: Callable[[str], tuple[int, bytes]], max_age: int
) -> Callable[[Request], Awaitable[Response]]:
    async def answer(request: Request) -> Response:
        query = request.query_params.get("q", "")[: MAX_QUERY_CHARS + 1]
        status, body = await run_in_threadpool(page, query)
        headers = {"Cache-Control": f"public, max-age={min(max_age, 300)}"}
        content = b"" if request.method == "HEAD" else body
        return Response(
            content, status_code=status, headers=headers, media_type="text/html; charset=utf-8"
        )

    return answer


class _NoSniff:
    """`X-Content-Type-Options: nosniff` on every response, so a browser never runs a feed
    (or anything else served here) as a script or a page of another type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_with_header)


def app_for(
    settings: Settings,
    *,
    health: HealthCheck | None = None,
    metrics: Callable[[], bytes] | None = None,
    search: Callable[[str], bytes] | None = None,
    status: Callable[[], bytes] | None = None,
) -> Starlette:
    """The server app for a configuration (used by `rassegna serve` and the daemon);
    `search` is `rassegna.operations.search_feed(...)` to answer `/cerca` (and, being a
    `SearchFeed`, `/ricerca` with its HTML page)."""
    return create_app(
        settings.output.dir,
        max_age=min(settings.scheduler.interval, 3600),
        health=health,
        metrics=metrics,
        hubs=settings.websub.hubs,
        base_url=settings.site.base_url,
        search=search,
        search_page=search.page if isinstance(search, SearchFeed) else None,
        status=status if settings.server.status else None,
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal capture: it re-raises SIGINT/SIGTERM after shutting
    down, which turns a clean stop into exit status 130 or a death by signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class BackgroundServer:
    """The server in a thread of its own, for the daemon (whose main thread owns signals)."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        # Bind once ourselves first: uvicorn would log its own multi-line error and exit.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise ServerError(
                    f"server: cannot listen on {self.host}:{self.port}: {exc.strerror}"
                ) from exc
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ServerError(
                    f"server: cannot listen on {self.host}:{self.port} (address in use?)"
                )
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.ident is not None:  # started
            self._thread.join(timeout)


def serve_forever(app: Starlette, host: str, port: int) -> None:
    """Serve `app` until SIGINT or SIGTERM, then return normally after a graceful shutdown."""
    server = BackgroundServer(app, host, port)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        log.info("serving on http://%s:%d/", host, port)
        while not stop.wait(1.0):
            if not server.running:
                raise ServerError(f"server: stopped unexpectedly on {host}:{port}")
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
