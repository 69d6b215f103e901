"""The HTTP fetcher against real loopback servers: redirects, errors, Retry-After, limits,
compression, timeouts, slow drips, the address guard and per-host politeness."""

from __future__ import annotations

import gzip
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from db.records import FetchKind
from ingest.fetch import Fetcher, FetchError, is_public_address, parse_retry_after
from tests.remote_helpers import Timer, closed_port_url, feed_bytes, policy, raw_server

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
BODY = feed_bytes("wordpress.xml")


def fetch(url: str, **changes: object) -> object:
    with Fetcher(policy(**changes)) as fetcher:
        return fetcher.fetch(url, now=NOW)


def fetch_error(url: str, **changes: object) -> FetchError:
    with pytest.raises(FetchError) as caught, Fetcher(policy(**changes)) as fetcher:
        fetcher.fetch(url, now=NOW)
    return caught.value


def test_plain_get_sends_user_agent_and_returns_validators(httpserver: HTTPServer) -> None:
    seen: list[str] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("User-Agent", ""))
        return Response(
            BODY,
            headers={"ETag": 'W/"abc"', "Last-Modified": "Thu, 05 Mar 2026 10:02:11 GMT"},
            content_type="application/rss+xml; charset=UTF-8",
        )

    httpserver.expect_request("/feed/").respond_with_handler(handler)
    with Fetcher(policy()) as fetcher:
        response = fetcher.fetch(httpserver.url_for("/feed/"), now=NOW)
        custom = fetcher.fetch(httpserver.url_for("/feed/"), now=NOW, user_agent="Altro/2")
    assert response.status == 200 and response.body == BODY
    assert response.etag == 'W/"abc"'  # exactly as received, weak prefix included
    assert response.last_modified == "Thu, 05 Mar 2026 10:02:11 GMT"
    assert (response.content_type, response.charset) == ("application/rss+xml", "UTF-8")
    assert custom.status == 200
    assert seen[0].startswith("rassegna-test/1") and seen[1] == "Altro/2"


def test_conditional_headers_are_sent_back_verbatim(httpserver: HTTPServer) -> None:
    got: dict[str, str] = {}

    def handler(request: Request) -> Response:
        got.update(request.headers)
        return Response(status=304)

    httpserver.expect_request("/f").respond_with_handler(handler)
    with Fetcher(policy()) as fetcher:
        response = fetcher.fetch(
            httpserver.url_for("/f"), etag='"x y"', last_modified="Wed, 04 Mar 2026 ..."
        )
    assert response.not_modified and response.body == b""
    assert got["If-None-Match"] == '"x y"'
    assert got["If-Modified-Since"] == "Wed, 04 Mar 2026 ..."


def test_permanent_redirect_chain(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data(
        "", status=308, headers={"Location": httpserver.url_for("/c")}
    )
    httpserver.expect_request("/c").respond_with_data(BODY, content_type="application/rss+xml")
    response = fetch(httpserver.url_for("/a"))
    assert response.url == httpserver.url_for("/c")  # type: ignore[attr-defined]
    assert response.permanent_redirect == httpserver.url_for("/c")  # type: ignore[attr-defined]
    assert [code for code, _ in response.redirects] == [301, 308]  # type: ignore[attr-defined]


@pytest.mark.parametrize("temporary", [302, 307])
def test_temporary_redirect_in_a_chain_is_not_permanent(
    httpserver: HTTPServer, temporary: int
) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data(
        "", status=temporary, headers={"Location": "/c"}
    )
    httpserver.expect_request("/c").respond_with_data(BODY)
    response = fetch(httpserver.url_for("/a"))
    assert response.status == 200  # type: ignore[attr-defined]
    assert response.permanent_redirect is None  # type: ignore[attr-defined]


def test_more_than_five_redirects_fail(httpserver: HTTPServer) -> None:
    for n in range(7):
        httpserver.expect_request(f"/r{n}").respond_with_data(
            "", status=301, headers={"Location": f"/r{n + 1}"}
        )
    httpserver.expect_request("/r7").respond_with_data(BODY)
    error = fetch_error(httpserver.url_for("/r0"))
    assert error.kind is FetchKind.ERROR
    assert "more than 5 redirects" in error.message
    # Five are fine.
    assert fetch(httpserver.url_for("/r2")).status == 200  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "kind", "text"),
    [
        (404, FetchKind.ERROR, "HTTP 404 Not Found"),
        (410, FetchKind.GONE, "HTTP 410 Gone"),
        (500, FetchKind.ERROR, "HTTP 500 Internal Server Error"),
        (503, FetchKind.ERROR, "HTTP 503 Service Unavailable"),
        (429, FetchKind.ERROR, "HTTP 429 Too Many Requests"),
    ],
)
def test_error_statuses(httpserver: HTTPServer, status: int, kind: FetchKind, text: str) -> None:
    httpserver.expect_request("/f").respond_with_data("no", status=status)
    error = fetch_error(httpserver.url_for("/f"))
    assert error.kind is kind and error.status == status
    assert error.message == f"{httpserver.url_for('/f')}: {text}"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_and_date(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/s").respond_with_data(
        "", status=status, headers={"Retry-After": "120"}
    )
    httpserver.expect_request("/d").respond_with_data(
        "", status=status, headers={"Retry-After": "Fri, 06 Mar 2026 08:00:00 GMT"}
    )
    seconds = fetch_error(httpserver.url_for("/s"))
    assert seconds.kind is FetchKind.THROTTLED
    assert seconds.retry_after == NOW + timedelta(seconds=120)
    dated = fetch_error(httpserver.url_for("/d"))
    assert dated.kind is FetchKind.THROTTLED
    assert dated.retry_after == datetime(2026, 3, 6, 8, 0, tzinfo=UTC)


def test_retry_after_is_capped_at_seven_days() -> None:
    assert parse_retry_after("99999999", NOW) == NOW + timedelta(days=7)
    assert parse_retry_after("Sat, 01 Jan 2056 00:00:00 GMT", NOW) == NOW + timedelta(days=7)
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT", NOW) == NOW  # in the past
    assert parse_retry_after("domani", NOW) is None


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
def test_compressed_bodies(httpserver: HTTPServer, encoding: str) -> None:
    import zlib

    compressed = {
        "gzip": gzip.compress(BODY),
        "br": brotli.compress(BODY),
        "deflate": zlib.compress(BODY),
    }[encoding]
    accepted: list[str] = []

    def handler(request: Request) -> Response:
        accepted.append(request.headers.get("Accept-Encoding", ""))
        return Response(compressed, headers={"Content-Encoding": encoding})

    httpserver.expect_request("/z").respond_with_handler(handler)
    response = fetch(httpserver.url_for("/z"))
    assert response.body == BODY  # type: ignore[attr-defined]
    assert "br" in accepted[0] and "gzip" in accepted[0]


def test_oversize_body_declared_and_streamed(httpserver: HTTPServer) -> None:
    big = b"<rss>" + b"x" * 5000 + b"</rss>"
    httpserver.expect_request("/big").respond_with_data(big)

    def chunked(_: Request) -> Response:
        return Response(iter([b"x" * 1000] * 50))  # no Content-Length: streamed

    httpserver.expect_request("/chunked").respond_with_handler(chunked)
    declared = fetch_error(httpserver.url_for("/big"), max_bytes=2048)
    assert "more than the 2048 allowed" in declared.message
    streamed = fetch_error(httpserver.url_for("/chunked"), max_bytes=2048)
    assert "ingest.max_bytes" in streamed.message
    assert streamed.kind is FetchKind.ERROR


def test_compression_bomb_is_stopped_by_the_decoded_size(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    assert len(bomb) < 10_000
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    error = fetch_error(httpserver.url_for("/bomb"), max_bytes=100_000)
    assert "ingest.max_bytes" in error.message


def test_silent_server_times_out_at_the_total_deadline() -> None:
    with raw_server("silent") as base:
        timer = Timer()
        error = fetch_error(f"{base}/feed", total_timeout=1.0)
    assert error.kind is FetchKind.NETWORK
    assert "within 1 s" in error.message
    assert timer.elapsed < 3


@pytest.mark.parametrize("behaviour", ["drip", "drip-headers"])
def test_slow_drip_cannot_hold_a_worker(behaviour: str) -> None:
    # Each byte arrives well within any per-read timeout; only the total deadline stops it.
    with raw_server(behaviour, interval=0.05) as base:
        timer = Timer()
        error = fetch_error(f"{base}/feed", total_timeout=1.0)
    assert error.kind is FetchKind.NETWORK
    assert 0.9 < timer.elapsed < 3


def test_connection_refused_is_a_network_error() -> None:
    error = fetch_error(closed_port_url())
    assert error.kind is FetchKind.NETWORK
    assert "cannot connect" in error.message


def test_private_addresses_are_refused_by_default(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/f").respond_with_data(BODY)
    url = f"http://127.0.0.1:{httpserver.port}/f"
    error = fetch_error(url, allow_private_networks=False)
    assert error.kind is FetchKind.ERROR
    assert error.message.startswith(f"{url}: refused: 127.0.0.1 resolves to 127.0.0.1")
    assert "allow_private_networks" in error.message
    # By name too: the check runs on the resolved address, not on the spelling.
    by_name = fetch_error(url.replace("127.0.0.1", "localhost"), allow_private_networks=False)
    assert "localhost resolves to" in by_name.message
    assert len(httpserver.log) == 0  # nothing ever reached the server
    assert fetch(url).status == 200  # type: ignore[attr-defined]


def test_public_address_rules() -> None:
    for blocked in (
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ):
        assert not is_public_address(blocked), blocked
    for allowed in ("93.184.216.34", "151.101.1.69", "2a00:1450:4002:402::200e"):
        assert is_public_address(allowed), allowed


def test_not_http_is_refused() -> None:
    error = fetch_error("file:///etc/passwd")
    assert "not an http(s) URL" in error.message


class Overlap:
    """A handler that holds each request `hold` seconds, recording the most requests in
    flight at once and when each one started."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.active = 0
        self.peak = 0
        self.starts: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, _: Request) -> Response:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.starts.append(time.monotonic())
        time.sleep(self.hold)
        with self._lock:
            self.active -= 1
        return Response(BODY)


@contextmanager
def threaded_server() -> Iterator[HTTPServer]:
    """A loopback server answering requests in parallel, unlike the `httpserver` fixture."""
    server = HTTPServer(threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


def fetch_at_once(fetcher: Fetcher, urls: list[str]) -> None:
    threads = [threading.Thread(target=fetcher.fetch, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_one_request_per_host_and_a_minimum_delay() -> None:
    with threaded_server() as server:
        handler = Overlap(hold=0.15)
        server.expect_request("/f").respond_with_handler(handler)
        with Fetcher(policy(host_delay=0.3)) as fetcher:
            fetch_at_once(fetcher, [server.url_for("/f")] * 3)
        assert handler.peak == 1
        gaps = [b - a for a, b in itertools.pairwise(sorted(handler.starts))]
        # Each request starts after the previous one ended (0.15 s) plus the delay (0.3 s).
        assert all(gap >= 0.44 for gap in gaps), gaps


def test_the_threaded_server_does_overlap_without_the_gate() -> None:
    """Control for the test above: two hosts are not serialized by the gate."""
    with threaded_server() as server:
        handler = Overlap(hold=0.3)
        server.expect_request("/f").respond_with_handler(handler)
        url = f"http://localhost:{server.port}/f"
        with Fetcher(policy()) as fetcher:
            fetch_at_once(fetcher, [url, url.replace("localhost", "127.0.0.1")])
        assert handler.peak == 2


def test_configured_host_delay_spaces_requests_to_one_host(tmp_path: Path) -> None:
    """`ingest.host_delay` reaches the daemon's fetcher (default 0.25 s): two sources on one
    host are fetched that far apart, two hosts are not held up by each other."""
    from rassegna.config import load_settings
    from rassegna.operations import make_fetcher
    from tests.conftest import write_config

    default = load_settings(write_config(tmp_path, '[site]\ntitle = "T"\n'), environ={})
    assert default.ingest.host_delay == 0.25
    config = write_config(
        tmp_path,
        '[site]\ntitle = "T"\n\n[ingest]\nallow_private_networks = true\nhost_delay = 0.6\n',
    )
    server = HTTPServer(host="0.0.0.0", threaded=True)  # every 127.0.0.x reaches it
    server.expect_request("/f").respond_with_data(BODY)
    server.start()
    try:
        started: dict[str, float] = {}
        with make_fetcher(load_settings(config, environ={})) as fetcher:

            def get(host: str, key: str) -> None:
                fetcher.fetch(f"http://{host}:{server.port}/f", now=NOW)
                started[key] = time.monotonic()

            begin = time.monotonic()
            get("127.0.0.1", "first")
            threads = [
                threading.Thread(target=get, args=("127.0.0.1", "same host")),
                threading.Thread(target=get, args=("127.0.0.2", "other host")),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        server.clear()
        server.stop()
    assert started["same host"] - started["first"] >= 0.6 - 0.02
    assert started["other host"] - begin < 0.5


def test_idle_connections_to_many_hosts_are_reused() -> None:
    # 40 hosts (127.0.0.2-41, one server on every loopback address), each fetched twice
    # in turn: the second round reuses the 40 idle connections instead of connecting
    # again (httpx alone keeps 20, and would reconnect to every host in the second round).
    import http.server
    import socketserver

    from ingest.fetch import KEEPALIVE_CONNECTIONS

    connections: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            connections.append(self.client_address[0])

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    hosts = [f"127.0.0.{n}" for n in range(2, 42)]
    assert len(hosts) <= KEEPALIVE_CONNECTIONS
    server = Server(("0.0.0.0", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with Fetcher(policy()) as fetcher:
            for _ in range(2):
                for host in hosts:
                    fetcher.fetch(f"http://{host}:{server.server_address[1]}/f", now=NOW)
    finally:
        server.shutdown()
        server.server_close()
    assert len(connections) == len(hosts)
