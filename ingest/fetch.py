"""HTTP fetching for remote sources: polite, bounded and guarded.

One `Fetcher` per process (the daemon's workers share it) so that its per-host gates
really keep one request in flight per host. Every fetch:

- sends the stored `ETag` / `Last-Modified` back exactly as received (conditional GET);
- follows at most 5 redirects by hand, remembering whether the chain was only 301/308
  (the only case in which the store may, after confirmation, adopt the new URL);
- gives up after a connect timeout (10 s) and a *total* deadline (30 s) enforced on every
  socket read, so a server that drips one byte at a time cannot hold a worker;
- streams the (decompressed) body and aborts beyond `max_bytes`, so a gzip or brotli
  bomb is stopped too;
- refuses loopback, private, link-local and metadata addresses unless allowed. The check
  runs on the resolved address of every connection (hence every redirect hop), and the
  connection is made to the very address that was checked, so DNS rebinding cannot slip
  a private address in between.
"""

from __future__ import annotations

import contextvars
import dataclasses
import email.utils
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from db import schedule
from db.records import FetchKind

CONNECT_TIMEOUT = 10.0
TOTAL_TIMEOUT = 30.0
MAX_REDIRECTS = 5
# Default pause between two requests to one host (`ingest.host_delay`): a publisher's
# category feeds (often ten or more on one host) are spaced out, never fetched in a burst,
# while 1,000 sources on 100 hosts still fit in a few seconds.
HOST_DELAY = 0.25
# Default cap on a response body, decompressed (`ingest.max_bytes`): far above any real
# feed or article page, far below what a decompression bomb would grow to.
MAX_BYTES = 10 * 1024 * 1024
RETRY_AFTER_CAP = timedelta(seconds=schedule.RETRY_AFTER_CAP)
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.7,"
    " */*;q=0.5"
)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits and identity of the fetcher (from `[ingest]`; tests shorten the timeouts)."""

    user_agent: str
    max_bytes: int = MAX_BYTES
    allow_private_networks: bool = False
    connect_timeout: float = CONNECT_TIMEOUT
    total_timeout: float = TOTAL_TIMEOUT
    max_redirects: int = MAX_REDIRECTS
    host_delay: float = HOST_DELAY


class FetchError(Exception):
    """A fetch failed; `message` is one sentence starting with the URL, `kind` says how
    the scheduler should take it."""

    def __init__(
        self,
        message: str,
        kind: FetchKind,
        *,
        status: int | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Response:
    """A finished fetch: 200 with its body, or 304 with none."""

    requested_url: str
    url: str  # final URL, after redirects
    status: int
    body: bytes
    content_type: str | None
    charset: str | None
    etag: str | None
    last_modified: str | None
    redirects: tuple[tuple[int, str], ...] = ()
    min_interval: int | None = None  # from Cache-Control max-age, Expires or Retry-After
    min_interval_origin: str | None = None  # which of them: "Cache-Control max-age=600", ...

    @classmethod
    def bare(cls, url: str, body: bytes) -> Response:
        """A document with no headers to go by: read from disk (`url` is its `file:` URI),
        or made by a test."""
        return cls(url, url, 200, body, None, None, None, None)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def permanent_redirect(self) -> str | None:
        """The final URL when every hop was a 301 or 308, else None."""
        if self.redirects and all(code in PERMANENT_REDIRECTS for code, _ in self.redirects):
            return self.url
        return None


# -- address guard -------------------------------------------------------------------------


class BlockedAddress(httpcore.ConnectError):
    """A host resolved to an address remote sources may not reach."""


def is_public_address(address: str) -> bool:
    """Whether an IP address is globally routable (not loopback, private, link-local,
    CGNAT, multicast, reserved or a cloud metadata address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


# The deadline of the fetch running in this thread; every socket operation is capped by it.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "rassegna_fetch_deadline", default=None
)


def _capped(timeout: float | None) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpcore.ReadTimeout("the total time allowed for the fetch ran out")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads and writes never outlive the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _capped(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself, checks the addresses and connects to a checked one."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _capped(timeout)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self._allow_private:
            blocked = [a for a in addresses if not is_public_address(a)]
            if blocked:
                raise BlockedAddress(
                    f"{host} resolves to {blocked[0]}, a loopback, private or link-local"
                    " address (set ingest.allow_private_networks = true to allow it)"
                )
        last: Exception | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # try the next address of the host
                last = exc
                continue
            return _DeadlineStream(stream)
        raise last or httpcore.ConnectError(f"{host} has no address")


KEEPALIVE_CONNECTIONS = 100
"""Idle connections the fetcher keeps (httpx keeps 20): a tick polls many hosts, a press
review often several feeds of each, and with 20 every host past the twentieth connected
(and shook hands for TLS) again for each of its feeds. Each idle one is a socket for at
most `keepalive_expiry` seconds."""


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, allow_private: bool) -> None:
        super().__init__(trust_env=False)
        # httpx does not expose httpcore's network backend, so the pool is rebuilt with
        # ours; the other arguments are httpx's defaults.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=KEEPALIVE_CONNECTIONS,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allow_private),
        )


# -- politeness ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Gate:
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: float = float("-inf")


class HostGates:
    """At most one request in flight per host, and `delay` seconds between two of them."""

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._lock = threading.Lock()
        self._gates: dict[str, _Gate] = {}

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        with self._lock:
            gate = self._gates.setdefault(host.lower(), _Gate())
        with gate.lock:
            wait = gate.last + self._delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                gate.last = time.monotonic()


# -- header parsing ------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """`Retry-After` as seconds or an HTTP date, as an instant capped at 7 days from now."""
    if not value:
        return None
    value = value.strip()
    when: datetime | None
    if value.isdigit():
        when = now + timedelta(seconds=int(value))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return max(now, min(when, now + RETRY_AFTER_CAP))


_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def cache_lifetime(headers: httpx.Headers) -> tuple[int, str] | None:
    """Seconds the response says it stays fresh (Cache-Control max-age, else Expires), and
    the header that says it ("Cache-Control max-age=600" or "Expires")."""
    control = headers.get("cache-control", "")
    if re.search(r"no-cache|no-store", control, re.IGNORECASE):
        return None
    match = _MAX_AGE_RE.search(control)
    if match:
        seconds = int(match.group(1))
        return seconds, f"Cache-Control max-age={seconds}"
    expires = headers.get("expires")
    if not expires:
        return None
    try:
        until = email.utils.parsedate_to_datetime(expires)
        said = headers.get("date")
        origin = email.utils.parsedate_to_datetime(said) if said else datetime.now(UTC)
    except (TypeError, ValueError):
        return None
    if until.tzinfo is None or origin.tzinfo is None:
        return None
    seconds = int((until - origin).total_seconds())
    return (seconds, "Expires") if seconds > 0 else None


def server_wait(headers: httpx.Headers, now: datetime) -> tuple[int, str] | None:
    """The longest a successful (200 or 304) response asks us to wait before the next
    request, and the header that asks it: its freshness (`cache_lifetime`) or a
    `Retry-After` (seconds or a date, as `parse_retry_after` reads it)."""
    hint = cache_lifetime(headers)
    found = [hint] if hint is not None and hint[0] > 0 else []
    until = parse_retry_after(headers.get("retry-after"), now)
    if until is not None and (seconds := int((until - now).total_seconds())) > 0:
        found.append((seconds, "Retry-After"))
    return max(found, key=lambda h: h[0]) if found else None


def content_type_charset(value: str | None) -> tuple[str | None, str | None]:
    """(media type, charset) of a Content-Type header."""
    if not value:
        return None, None
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'") or None
    return media.strip().lower() or None, charset


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


# -- the fetcher ---------------------------------------------------------------------------


class Fetcher:
    """An HTTP client for remote sources; thread-safe, close it when done."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.gates = HostGates(policy.host_delay)
        self._client = httpx.Client(
            transport=_GuardedTransport(policy.allow_private_networks),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": policy.user_agent, "Accept": ACCEPT},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        now: datetime | None = None,
        user_agent: str | None = None,
    ) -> Response:
        """GET `url` (conditionally), or raise FetchError saying what went wrong."""
        now = now or datetime.now(UTC)
        policy = self.policy
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if user_agent:
            headers["User-Agent"] = user_agent
        hops: list[tuple[int, str]] = []
        current = url
        token = _DEADLINE.set(time.monotonic() + policy.total_timeout)
        try:
            while True:
                parts = urlsplit(current)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise FetchError(f"{current}: not an http(s) URL", FetchKind.ERROR)
                with self.gates.hold(parts.hostname):
                    result = self._one(current, headers, now)
                if isinstance(result, Response):
                    # The last hop's answer, as the answer to the URL asked for.
                    return dataclasses.replace(
                        result, requested_url=url, url=current, redirects=tuple(hops)
                    )
                status, location = result
                target = urljoin(current, location)
                hops.append((status, target))
                if len(hops) > policy.max_redirects:
                    raise FetchError(
                        f"{url}: more than {policy.max_redirects} redirects", FetchKind.ERROR
                    )
                current = target
        finally:
            _DEADLINE.reset(token)

    def _one(self, url: str, headers: dict[str, str], now: datetime) -> Response | tuple[int, str]:
        """One request: a Response, or (status, Location) of a redirect."""
        policy = self.policy
        timeout = httpx.Timeout(
            policy.total_timeout, connect=min(policy.connect_timeout, policy.total_timeout)
        )
        try:
            with self._client.stream("GET", url, headers=headers, timeout=timeout) as response:
                status = response.status_code
                if status in REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(
                            f"{url}: {_reason(status)} without a Location", FetchKind.ERROR
                        )
                    return status, location
                media, charset = content_type_charset(response.headers.get("content-type"))
                if status == 304:
                    body = b""
                elif status >= 400:
                    raise self._status_error(url, response, now)
                elif status != 200:
                    raise FetchError(f"{url}: unexpected {_reason(status)}", FetchKind.ERROR)
                else:
                    body = self._read_body(url, response)
                wait = server_wait(response.headers, now)
                return Response(
                    requested_url=url,
                    url=url,
                    status=status,
                    body=body,
                    content_type=media,
                    charset=charset,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    min_interval=wait[0] if wait else None,
                    min_interval_origin=wait[1] if wait else None,
                )
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchError(
                f"{url}: no complete answer within {policy.total_timeout:g} s"
                if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout)
                else f"{url}: cannot connect within {policy.connect_timeout:g} s",
                FetchKind.NETWORK,
            ) from exc
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, BlockedAddress):
                raise FetchError(f"{url}: refused: {exc.__cause__}", FetchKind.ERROR) from exc
            raise FetchError(
                f"{url}: cannot connect: {_first_line(exc)}", FetchKind.NETWORK
            ) from exc
        except httpx.DecodingError as exc:
            raise FetchError(
                f"{url}: the compressed body is corrupt: {_first_line(exc)}", FetchKind.ERROR
            ) from exc
        except httpx.TransportError as exc:
            raise FetchError(
                f"{url}: the connection failed: {_first_line(exc)}", FetchKind.NETWORK
            ) from exc

    def _read_body(self, url: str, response: httpx.Response) -> bytes:
        limit = self.policy.max_bytes
        declared = response.headers.get("content-length", "")
        if (
            declared.isdigit()
            and int(declared) > limit
            and "content-encoding" not in response.headers
        ):
            raise FetchError(
                f"{url}: the body is {int(declared)} bytes, more than the {limit} allowed"
                " (ingest.max_bytes)",
                FetchKind.ERROR,
            )
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted, so a small compressed bomb is stopped as well.
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchError(
                    f"{url}: the body is more than the {limit} bytes allowed (ingest.max_bytes)",
                    FetchKind.ERROR,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _status_error(url: str, response: httpx.Response, now: datetime) -> FetchError:
        status = response.status_code
        reason = _reason(status)
        if status == 410:
            return FetchError(f"{url}: {reason}", FetchKind.GONE, status=status)
        if status in (429, 503):
            until = parse_retry_after(response.headers.get("retry-after"), now)
            if until is not None:
                return FetchError(
                    f"{url}: {reason}, retry after {until.isoformat(timespec='seconds')}",
                    FetchKind.THROTTLED,
                    status=status,
                    retry_after=until,
                )
        # A 5xx is the site's trouble, not our network's: it counts and backs off.
        return FetchError(f"{url}: {reason}", FetchKind.ERROR, status=status)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
