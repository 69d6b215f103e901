"""The feed adapter: RSS 0.9x/1.0 (RDF)/2.0 and Atom through feedparser, JSON Feed 1.0/1.1
with the standard `json` module, each entry read into a `RawArticle` (`ingest.feed_entries`)
and given its identity (`ingest.feed_identity`: guid, else canonical link, else a hash).

Big XML documents are cut into small ones and read piece by piece (`ingest.feed_stream`).
A malformed feed from which feedparser still recovers entries is ingested and flagged
(`bozo`), not rejected.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import feedparser

from ingest import DEFAULT_TIMEZONE
from ingest.charset import SNIFF_BYTES, as_utf8_xml, decode_document
from ingest.errors import IngestError
from ingest.feed_entries import Reading, json_authors, json_entry, xml_entry
from ingest.feed_identity import FeedEntry, ParsedFeed, identify
from ingest.feed_stream import FeedCut, split_xml_feed
from ingest.pool import DraftPool

MAX_INTERVAL_HINT = 24 * 3600
_SY_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400}
_SY_PERIODS["yearly"] = 365 * 86400
JSON_FEED_TYPES = ("application/feed+json", "application/json")
STREAM_MIN_BYTES = 2 * 1024 * 1024
"""XML feeds at least this big are parsed in chunks of items (see `stream_xml_feed`)."""
STREAM_CHUNK_ITEMS = 100
MAX_ENTRIES_PER_FETCH = 1000
"""Entries read from one document, the first ones in document order (feeds list the newest
first); the rest are dropped and counted (`ParsedFeed.dropped`). A feed of 100,000 entries
would otherwise take minutes to normalize and grow the store without bound."""


@dataclass(frozen=True, slots=True)
class FeedLimits:
    """How much of one feed document is read, and in what pieces: the entries read (the
    first ones in document order), the size from which an XML document is read piece by
    piece, and the items in a piece. The defaults are the service's; tests give small ones
    to reach the cap and the piecewise route with small documents."""

    max_entries: int = MAX_ENTRIES_PER_FETCH
    stream_min_bytes: int = STREAM_MIN_BYTES
    chunk_items: int = STREAM_CHUNK_ITEMS


DEFAULT_LIMITS = FeedLimits()
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_HEADERS = {"content-type": "application/xml; charset=utf-8"}


def looks_like_json_feed(data: bytes, content_type: str | None) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if content_type in JSON_FEED_TYPES and head.startswith(b"{"):
        return True
    return head.startswith(b"{") and b"jsonfeed.org" in data[:4096]


def looks_like_feed(data: bytes, content_type: str | None) -> bool:
    """Whether a response is a feed rather than a web page (for ad-hoc URLs)."""
    if looks_like_json_feed(data, content_type):
        return True
    head = data[:4096].lower()
    return any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf", b"<channel"))


def parse_feed(
    data: bytes,
    *,
    url: str,
    http_charset: str | None = None,
    content_type: str | None = None,
    now: datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    strip_tracking: bool = True,
    pool: DraftPool | None = None,
    limits: FeedLimits = DEFAULT_LIMITS,
) -> ParsedFeed:
    """Parse a feed document fetched from `url` (the final URL, the base of relative
    links); raises IngestError when nothing usable is in it.

    With `strip_tracking` (`[ingest] strip_tracking`), tracking parameters leave entry
    ids, links and the links in the content before identities are decided. With a
    `pool`, the pieces of a big document are read on its workers; `limits` says how
    much of the document is read."""
    reading = Reading(url, now or datetime.now(UTC), timezone, keep=not strip_tracking)
    if _worth_streaming(data, limits) and not looks_like_json_feed(data, content_type):
        xml = _utf8_xml_bytes(data)
        if xml is not None:
            # `decode_document` would say "utf-8" and `as_utf8_xml` give these very bytes;
            # skipping the text saves two copies of a big document (its text is up to 4
            # bytes a character, more than the file).
            streamed = stream_xml_feed(xml, reading, pool=pool, limits=limits)
            if streamed is not None:
                streamed.encoding = "utf-8"
                return streamed
    if looks_like_json_feed(data, content_type):
        text, encoding = decode_document(data, http_charset or "utf-8")
        parsed = _parse_json_feed(text, reading, limits)
    else:
        text, encoding = decode_document(data, http_charset)
        parsed = _parse_xml_feed(text, reading, limits, pool=pool)
    parsed.encoding = encoding
    return parsed


# -- XML feeds -----------------------------------------------------------------------------


def _parse_xml_feed(
    text: str, reading: Reading, limits: FeedLimits, *, pool: DraftPool | None = None
) -> ParsedFeed:
    xml = as_utf8_xml(text)
    del text  # the caller's copy is the last one: a big document is not held twice
    if _worth_streaming(xml, limits):
        streamed = stream_xml_feed(xml, reading, pool=pool, limits=limits)
        if streamed is not None:
            return streamed
    document = feedparser_parse(xml)
    del xml
    kept = document.entries[: limits.max_entries]
    entries = [xml_entry(e, reading) for e in kept]
    dropped = len(document.entries) - len(kept)
    return _finish(entries, document, _bozo(document), url=reading.url, dropped=dropped)


def _worth_streaming(xml: bytes, limits: FeedLimits) -> bool:
    """Whether to try `stream_xml_feed`: a big document, or one that may hold more items
    than are read (feedparser would parse every one of them, seconds for a megabyte of
    small items; streaming stops handing them over at the cap). A guess that only picks
    the route: both give the same result."""
    if len(xml) >= limits.stream_min_bytes:
        return True
    tags = xml.count(b"<item") + xml.count(b"<entry") + xml.count(b":entry")
    return tags > limits.max_entries


_UTF8_DECL_RE = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""")


def _utf8_xml_bytes(data: bytes) -> bytes | None:
    """`as_utf8_xml(decode_document(data)[0])` without decoding, for a document without a
    BOM that is valid UTF-8 (what `decode_document` reads as UTF-8); else None.

    `as_utf8_xml` also replaces character references XML forbids (`&#xD800;`); this does
    not need to: a document holding one is not well-formed, so `stream_xml_feed` refuses
    it and the caller falls back to the whole parse, which goes through `as_utf8_xml`.
    """
    if data.startswith(_BOMS):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        # Checked a megabyte at a time: decoding it whole would make a text copy of it.
        for start in range(0, len(data), 1 << 20):
            decoder.decode(view[start : start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    head = data[:SNIFF_BYTES]
    fixed = _UTF8_DECL_RE.sub(rb'\1"utf-8"', head, count=1)
    return data if fixed == head else fixed + data[len(head) :]


def feedparser_parse(xml: bytes) -> Any:
    """feedparser's reading of `xml` with the options every route of this module uses.

    Public so that the benchmarks and tests measure and observe exactly the feedparser
    call the ingest makes."""
    return feedparser.parse(
        xml,
        # No content-location: feedparser would then "resolve" guids like `fp-1001` against
        # the feed URL, and an identity must not depend on where the feed lives. Links
        # and content are resolved here instead (xml:base is still applied by feedparser).
        response_headers=_HEADERS,
        sanitize_html=False,  # nh3 sanitizes later, after our own URL clean-up
    )


def _bozo(document: Any) -> str | None:
    if not document.get("bozo"):
        return None
    exception = document.get("bozo_exception")
    return _first_line(str(exception)) if exception else "malformed document"


def _finish(
    entries: list[FeedEntry], header: Any, bozo: str | None, *, url: str, dropped: int
) -> ParsedFeed:
    """The parsed feed from its entries and the feedparser result holding its channel."""
    if not header.get("version") and not entries:
        reason = f": {bozo}" if bozo else ""
        raise IngestError(f"{url}: not an RSS, Atom or JSON feed{reason}")
    feed_info: Mapping[str, Any] = header.feed
    parsed = identify(entries, url=url)
    parsed.title = str(feed_info.get("title") or "") or None
    parsed.bozo = bozo
    hint = _interval_hint(feed_info)
    if hint is not None:
        parsed.min_interval, parsed.min_interval_origin = hint
    parsed.dropped = dropped
    return parsed


def stream_xml_feed(
    xml: bytes,
    reading: Reading,
    *,
    pool: DraftPool | None = None,
    limits: FeedLimits = DEFAULT_LIMITS,
) -> ParsedFeed | None:
    """A big RSS 2.0 or Atom document read by feedparser `limits.chunk_items` items at a
    time (`ingest.feed_stream`); None when it is not one that can be read exactly like a
    whole parse.

    feedparser keeps the whole parsed document as a tree of dicts, ~7 times the size of
    the file, all at once; here only one chunk's tree lives at a time. Items past
    `limits.max_entries` never reach feedparser. The caller's size limit on documents
    (`ingest.max_bytes`) bounds the whole. With a `pool`, its workers read the pieces
    (feedparser's share of a feed ingest is the biggest single one), two or more at once.
    """
    task = partial(read_xml_chunks, reading=reading)
    if pool is None:
        split = split_xml_feed(xml, chunk_items=limits.chunk_items, limit=limits.max_entries)
        if split is None:
            return None
        pieces = task(split.chunks)
    else:
        # Each piece goes to the workers as soon as it is cut: they read the first pieces
        # while this process cuts the rest. All of them are handed over before the first
        # is waited for, so the cut never waits for a reading.
        cut = FeedCut(xml, chunk_items=limits.chunk_items, limit=limits.max_entries)
        ahead = -(-limits.max_entries // limits.chunk_items)
        on_workers = pool.stream(
            task, ([piece] for piece in cut.pieces()), chunk=1, ahead=ahead, min_batch=1
        )
        pieces = [read for _, out in on_workers for read in out]
        split = cut.result
        if split is None:
            return None
    entries: list[FeedEntry] = []
    bozo: str | None = None
    for read, problem in pieces:
        entries.extend(read)
        bozo = bozo or problem
    header = feedparser_parse(split.shell)
    return _finish(entries, header, bozo or _bozo(header), url=reading.url, dropped=split.dropped)


def read_xml_chunks(
    chunks: Sequence[bytes], *, reading: Reading
) -> list[tuple[list[FeedEntry], str | None]]:
    """The entries of each cut-out piece of a feed, and why it is malformed, if it is."""
    out: list[tuple[list[FeedEntry], str | None]] = []
    for chunk in chunks:
        document = feedparser_parse(chunk)
        entries = [xml_entry(e, reading) for e in document.entries]
        out.append((entries, _bozo(document)))
    return out


def _interval_hint(feed_info: Mapping[str, Any]) -> tuple[int, str] | None:
    """RSS <ttl> (minutes) or sy:updatePeriod / sy:updateFrequency, in seconds (the longer
    when both are there), and which element it is ("RSS ttl" or "sy:updatePeriod")."""
    hints: list[tuple[int, str]] = []
    ttl = str(feed_info.get("ttl") or "").strip()
    if ttl.isdigit():
        hints.append((int(ttl) * 60, "RSS ttl"))
    period = str(feed_info.get("sy_updateperiod") or "").strip().lower()
    if period in _SY_PERIODS:
        frequency = str(feed_info.get("sy_updatefrequency") or "1").strip()
        times = int(frequency) if frequency.isdigit() and int(frequency) > 0 else 1
        hints.append((_SY_PERIODS[period] // times, "sy:updatePeriod"))
    if not hints:
        return None
    seconds, origin = max(hints)
    return min(seconds, MAX_INTERVAL_HINT), origin


# -- JSON Feed -----------------------------------------------------------------------------


def _parse_json_feed(text: str, reading: Reading, limits: FeedLimits) -> ParsedFeed:
    url = reading.url
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{url}: not a valid JSON Feed (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise IngestError(f"{url}: not a JSON Feed (no list of items)")
    version = str(document.get("version") or "")
    bozo = None if "jsonfeed.org" in version else "no JSON Feed version"
    feed_authors = json_authors(document)
    entries: list[FeedEntry] = []
    dropped = 0
    for item in document["items"]:
        if not isinstance(item, dict):
            bozo = "an item is not an object"
            continue
        if len(entries) >= limits.max_entries:
            dropped += 1
            continue
        entries.append(json_entry(item, reading, authors=feed_authors))
    parsed = identify(entries, url=url)
    parsed.title = str(document.get("title") or "") or None
    parsed.bozo = bozo
    parsed.dropped = dropped
    return parsed


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else "malformed document"
