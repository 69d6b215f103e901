"""The feed adapter: RSS 0.9x/1.0 (RDF)/2.0 and Atom through feedparser, JSON Feed 1.0/1.1
with the standard `json` module, each entry read into a `RawArticle`.

Identity of an entry (its `guid` in the store, unique within the source):

1. the entry's guid / id;
2. else its canonical link (tracking parameters removed, host lower-cased, no fragment);
3. else a hash of its title, link and content.

When any guid of a document is blank or repeated, guids cannot tell its entries apart, so
the whole document moves to the next rule (and the log says so); likewise for links.

A malformed feed from which feedparser still recovers entries is ingested and flagged
(`bozo`), not rejected.
"""

from __future__ import annotations

import calendar
import codecs
import copy
import hashlib
import io
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
from lxml import etree

from ingest import DEFAULT_TIMEZONE, normalize
from ingest.article import plausible_date
from ingest.charset import SNIFF_BYTES, as_utf8_xml, decode_document
from ingest.errors import IngestError
from ingest.raw import RawArticle
from ingest.tracking import strip_tracking, strip_tracking_id
from ingest.untitled import text_key, title_from_html, title_from_link
from ingest.urls import canonical_url, clean_html, resolve

log = logging.getLogger("rassegna.ingest.feed")

MAX_GUID_CHARS = 1000
MAX_INTERVAL_HINT = 24 * 3600
_IMAGE_SUFFIX_RE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:$|\?)", re.IGNORECASE)
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
_ATOM = "{http://www.w3.org/2005/Atom}"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_HEADERS = {"content-type": "application/xml; charset=utf-8"}


@dataclass(slots=True)
class ParsedFeed:
    """What one feed document held."""

    title: str | None
    entries: list[RawArticle]
    bozo: str | None = None  # why the document was malformed, when it was
    min_interval: int | None = None  # from <ttl> or sy:updatePeriod, seconds
    identity: str = "guid"  # the rule that identified this document's entries
    undated: set[str] = field(default_factory=set)  # guids of entries with no usable date
    encoding: str = ""
    dropped: int = 0  # entries beyond MAX_ENTRIES_PER_FETCH, not read
    empty: int = 0  # entries with no title, no text and no link, skipped


@dataclass(slots=True)
class _Entry:
    """An entry before identity is decided."""

    guid: str | None
    link: str | None  # canonical
    raw: RawArticle
    untitled: bool = False  # the title was derived from the text (see ingest.untitled)
    empty: bool = False  # no title, no text, no link: nothing to take in


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
) -> ParsedFeed:
    """Parse a feed document fetched from `url` (the final URL, the base of relative
    links); raises IngestError when nothing usable is in it.

    With `strip_tracking` (`[ingest] strip_tracking`), tracking parameters leave entry
    ids, links and the links in the content before identities are decided."""
    keep = not strip_tracking
    now = now or datetime.now(UTC)
    if _worth_streaming(data) and not looks_like_json_feed(data, content_type):
        xml = _utf8_xml_bytes(data)
        if xml is not None:
            # `decode_document` would say "utf-8" and `as_utf8_xml` give these very bytes;
            # skipping the text saves two copies of a big document (its text is up to 4
            # bytes a character, more than the file).
            streamed = stream_xml_feed(xml, url=url, now=now, timezone=timezone, keep=keep)
            if streamed is not None:
                streamed.encoding = "utf-8"
                return streamed
    if looks_like_json_feed(data, content_type):
        text, encoding = decode_document(data, http_charset or "utf-8")
        parsed = _parse_json_feed(text, url=url, now=now, timezone=timezone, keep=keep)
    else:
        text, encoding = decode_document(data, http_charset)
        parsed = _parse_xml_feed(text, url=url, now=now, timezone=timezone, keep=keep)
    parsed.encoding = encoding
    return parsed


# -- XML feeds -----------------------------------------------------------------------------


def _parse_xml_feed(
    text: str, *, url: str, now: datetime, timezone: str, keep: bool = False
) -> ParsedFeed:
    xml = as_utf8_xml(text)
    del text  # the caller's copy is the last one: a big document is not held twice
    if _worth_streaming(xml):
        streamed = stream_xml_feed(xml, url=url, now=now, timezone=timezone, keep=keep)
        if streamed is not None:
            return streamed
    document = feedparser_parse(xml)
    del xml
    kept = document.entries[:MAX_ENTRIES_PER_FETCH]
    entries = [_xml_entry(e, url=url, now=now, timezone=timezone, keep=keep) for e in kept]
    dropped = len(document.entries) - len(kept)
    return _finish(entries, document, _bozo(document), url=url, dropped=dropped)


def _worth_streaming(xml: bytes) -> bool:
    """Whether to try `stream_xml_feed`: a big document, or one that may hold more items
    than are read (feedparser would parse every one of them, seconds for a megabyte of
    small items; streaming stops handing them over at the cap). A guess that only picks
    the route: both give the same result."""
    if len(xml) >= STREAM_MIN_BYTES:
        return True
    tags = xml.count(b"<item") + xml.count(b"<entry") + xml.count(b":entry")
    return tags > MAX_ENTRIES_PER_FETCH


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
    entries: list[_Entry], header: Any, bozo: str | None, *, url: str, dropped: int
) -> ParsedFeed:
    """The parsed feed from its entries and the feedparser result holding its channel."""
    if not header.get("version") and not entries:
        reason = f": {bozo}" if bozo else ""
        raise IngestError(f"{url}: not an RSS, Atom or JSON feed{reason}")
    feed_info: Mapping[str, Any] = header.feed
    parsed = _identify(entries, url=url)
    parsed.title = str(feed_info.get("title") or "") or None
    parsed.bozo = bozo
    parsed.min_interval = _interval_hint(feed_info)
    parsed.dropped = dropped
    return parsed


def stream_xml_feed(
    xml: bytes, *, url: str, now: datetime, timezone: str, keep: bool = False
) -> ParsedFeed | None:
    """A big RSS 2.0 or Atom document, read by feedparser `STREAM_CHUNK_ITEMS` items at a
    time; None when the document is not one this can read exactly like a whole parse.

    feedparser keeps the whole parsed document as a tree of dicts, ~7 times the size of
    the file, all at once. Here lxml's `iterparse` walks the document and each batch of
    finished items is moved into a copy of the document's shell (root and channel with
    the elements seen before the first item: namespaces, `xml:lang`, `<language>`), which
    feedparser then parses as a small feed of its own; each item is released as soon as
    it has been read. The channel's own data comes from the shell left at the end.

    Only well-formed documents without a DOCTYPE or `xml:base` go this way (anything
    else goes to feedparser whole, which has its own recovery for broken feeds). The
    parser never resolves entities, loads a DTD or touches the network, so it is not open
    to XXE or entity expansion; `huge_tree` stays off (libxml2's limits on text nodes
    and depth apply). The caller's size limit on documents (`ingest.max_bytes`) bounds
    the whole.

    Items past `MAX_ENTRIES_PER_FETCH` never reach feedparser: lxml only counts and
    releases them (what a whole parse reports must not depend on the route taken, and the
    rest of the document is still checked to be well-formed and read for the channel).
    """
    events = etree.iterparse(
        io.BytesIO(xml),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_pis=True,
    )
    root: Any = None
    container: Any = None  # the element whose children are the items
    item_tag = ""
    shell: Any = None
    batch: Any = None
    pending = 0
    taken = 0  # items sent to feedparser, at most MAX_ENTRIES_PER_FETCH
    dropped = 0
    entries: list[_Entry] = []
    bozo: str | None = None

    def flush() -> None:
        nonlocal batch, pending, bozo
        document = feedparser_parse(etree.tostring(batch, xml_declaration=True, encoding="utf-8"))
        bozo = bozo or _bozo(document)
        entries.extend(
            _xml_entry(e, url=url, now=now, timezone=timezone, keep=keep) for e in document.entries
        )
        batch, pending = None, 0

    try:
        for event, element in events:
            if event == "start":
                if root is None:
                    root = element
                    if root.getroottree().docinfo.doctype:
                        return None
                    if root.tag == "rss":
                        item_tag = "item"
                    elif root.tag == f"{_ATOM}feed":
                        container, item_tag = root, f"{_ATOM}entry"
                    else:
                        return None
                elif container is None and element.tag == "channel":
                    if element.getparent() is not root:
                        return None
                    container = element
                if _XML_BASE in element.attrib:
                    return None
                continue
            if element.tag != item_tag or element.getparent() is not container:
                continue
            if taken >= MAX_ENTRIES_PER_FETCH:
                dropped += 1
                container.remove(element)  # released at once: no tree of 100,000 items
                continue
            taken += 1
            if shell is None:
                shell = copy.deepcopy(root)
                shell_container = shell if container is root else shell.find("channel")
                for item in shell_container.findall(item_tag):
                    shell_container.remove(item)
            if batch is None:
                batch = copy.deepcopy(shell)
            (batch if container is root else batch.find("channel")).append(element)
            pending += 1
            if pending >= STREAM_CHUNK_ITEMS:
                flush()
    except etree.XMLSyntaxError:
        return None
    if root is None or container is None:
        return None
    if batch is not None:
        flush()
    header = feedparser_parse(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return _finish(entries, header, bozo or _bozo(header), url=url, dropped=dropped)


def _interval_hint(feed_info: Mapping[str, Any]) -> int | None:
    """RSS <ttl> (minutes) or sy:updatePeriod / sy:updateFrequency, in seconds."""
    hints: list[int] = []
    ttl = str(feed_info.get("ttl") or "").strip()
    if ttl.isdigit():
        hints.append(int(ttl) * 60)
    period = str(feed_info.get("sy_updateperiod") or "").strip().lower()
    if period in _SY_PERIODS:
        frequency = str(feed_info.get("sy_updatefrequency") or "1").strip()
        times = int(frequency) if frequency.isdigit() and int(frequency) > 0 else 1
        hints.append(_SY_PERIODS[period] // times)
    return min(max(hints), MAX_INTERVAL_HINT) if hints else None


def _date(text: object, parsed: object, *, now: datetime, timezone: str) -> datetime | None:
    """An entry date: our Italian-aware parser first (a date without a zone is in the
    site's zone), then feedparser's (which assumes UTC).

    A date that is not plausible (`plausible_date`: before 1900, more than a day ahead)
    is no date at all: the entry is then undated and keeps the date it was first seen
    with, instead of getting a new fallback date, and so a change, on every poll.
    """
    if isinstance(text, str) and text.strip():
        found = plausible_date(normalize.parse_date(text, now=now, tz=timezone))
        if found is not None:
            return found
    if isinstance(parsed, time.struct_time):
        try:
            return plausible_date(datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC))
        except (ValueError, OverflowError, OSError):
            # feedparser hands on years like 0 or 10000, which datetime cannot hold.
            return None
    return None


def _xml_entry(
    entry: dict[str, Any], *, url: str, now: datetime, timezone: str, keep: bool = False
) -> _Entry:
    """One entry; `keep`: leave tracking parameters where they are."""
    link = resolve(str(entry.get("link") or ""), url)
    base = url
    content_html = ""
    contents = entry.get("content") or []
    if contents:
        # content:encoded / atom:content; prefer HTML over plain text when both exist.
        html_first = sorted(contents, key=lambda c: "html" not in str(c.get("type", "")))
        content_html = str(html_first[0].get("value") or "")
    summary_html = str(entry.get("summary") or "")
    if content_html and len(content_html) < len(summary_html) and _only_plain(contents):
        # feedparser files an RSS item's media:description (an image caption, as Mastodon
        # writes them) under `content`: plain text shorter than the description is that
        # caption, not the entry's text.
        content_html = ""
    if not content_html:
        content_html, summary_html = summary_html, ""
    body, first_image = clean_html(content_html, base, tracking=keep)
    summary = " ".join(normalize.html_to_text(summary_html).split()) if summary_html else ""
    # dict.get: feedparser's own get() maps a missing `updated` to `published` (with a
    # deprecation warning), which would make every entry look edited at publication.
    published = _date(
        dict.get(entry, "published"),
        dict.get(entry, "published_parsed"),
        now=now,
        timezone=timezone,
    )
    updated = _date(
        dict.get(entry, "updated"), dict.get(entry, "updated_parsed"), now=now, timezone=timezone
    )
    authors = [str(a.get("name")) for a in entry.get("authors") or [] if a.get("name")]
    if not authors and entry.get("author"):
        authors = [str(entry.get("author"))]
    tags = [str(t.get("term") or t.get("label") or "") for t in entry.get("tags") or []]
    image = _entry_image(entry, base) or first_image
    raw = RawArticle(
        guid="",
        title=normalize.html_to_text(str(entry.get("title") or "")).replace("\n", " "),
        origin=link or url,
        summary=summary,
        body_html=body,
        url=canonical_url(link, tracking=keep) or _plain_link(link, keep),
        published=published or updated,
        updated=updated,
        authors=authors,
        tags=[t for t in tags if t.strip()],
        language=str(entry.get("language") or "") or None,
        image_url=image,
    )
    guid = str(entry.get("id") or "").strip() or None
    return _titled(
        _Entry(guid=_entry_id(guid, keep), link=canonical_url(link, tracking=keep), raw=raw)
    )


def _only_plain(contents: Sequence[Mapping[str, Any]]) -> bool:
    return all("html" not in str(c.get("type", "")) for c in contents)


def _entry_image(entry: Mapping[str, Any], base: str) -> str | None:
    """The lead image: media:content, then an image enclosure, then media:thumbnail."""
    for media in entry.get("media_content") or []:
        kind = str(media.get("medium") or media.get("type") or "")
        candidate = str(media.get("url") or "")
        is_image = kind.startswith("image") or _IMAGE_SUFFIX_RE.search(candidate)
        if candidate and is_image and not _tiny(media):
            return resolve(candidate, base)
    for enclosure in entry.get("enclosures") or []:
        candidate = str(enclosure.get("href") or enclosure.get("url") or "")
        kind = str(enclosure.get("type") or "")
        if candidate and (kind.startswith("image/") or _IMAGE_SUFFIX_RE.search(candidate)):
            return resolve(candidate, base)
    for thumbnail in entry.get("media_thumbnail") or []:
        candidate = str(thumbnail.get("url") or "")
        if candidate and not _tiny(thumbnail):
            return resolve(candidate, base)
    return None


def _tiny(media: Mapping[str, Any]) -> bool:
    sizes = [str(media.get(k) or "") for k in ("width", "height")]
    return all(s.isdigit() for s in sizes) and all(int(s) <= 1 for s in sizes)


# -- JSON Feed -----------------------------------------------------------------------------


def _parse_json_feed(
    text: str, *, url: str, now: datetime, timezone: str, keep: bool = False
) -> ParsedFeed:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{url}: not a valid JSON Feed (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise IngestError(f"{url}: not a JSON Feed (no list of items)")
    version = str(document.get("version") or "")
    bozo = None if "jsonfeed.org" in version else "no JSON Feed version"
    feed_authors = _json_authors(document)
    entries: list[_Entry] = []
    dropped = 0
    for item in document["items"]:
        if not isinstance(item, dict):
            bozo = "an item is not an object"
            continue
        if len(entries) >= MAX_ENTRIES_PER_FETCH:
            dropped += 1
            continue
        entries.append(
            _json_entry(item, url=url, now=now, timezone=timezone, authors=feed_authors, keep=keep)
        )
    parsed = _identify(entries, url=url)
    parsed.title = str(document.get("title") or "") or None
    parsed.bozo = bozo
    parsed.dropped = dropped
    return parsed


def _json_authors(holder: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    authors = holder.get("authors")
    if isinstance(authors, list):
        found = [str(a["name"]) for a in authors if isinstance(a, dict) and a.get("name")]
    author = holder.get("author")  # JSON Feed 1.0
    if not found and isinstance(author, dict) and author.get("name"):
        found = [str(author["name"])]
    return found


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    return str(value) if isinstance(value, str | int | float) else ""


def _json_entry(
    item: Mapping[str, Any],
    *,
    url: str,
    now: datetime,
    timezone: str,
    authors: list[str],
    keep: bool = False,
) -> _Entry:
    link = resolve(_text(item, "url") or _text(item, "external_url"), url)
    base = url
    content_html = _text(item, "content_html")
    if not content_html and _text(item, "content_text"):
        paragraphs = _text(item, "content_text").split("\n")
        content_html = "".join(f"<p>{_escape(p)}</p>" for p in paragraphs if p.strip())
    summary = _text(item, "summary")
    if not content_html and summary:
        content_html, summary = f"<p>{_escape(summary)}</p>", ""
    body, first_image = clean_html(content_html, base, tracking=keep)
    published = _date(_text(item, "date_published"), None, now=now, timezone=timezone)
    updated = _date(_text(item, "date_modified"), None, now=now, timezone=timezone)
    tags = item.get("tags")
    image = resolve(_text(item, "image") or _text(item, "banner_image"), base) or first_image
    raw = RawArticle(
        guid="",
        title=_text(item, "title"),
        origin=link or url,
        summary=summary,
        body_html=body,
        url=canonical_url(link, tracking=keep) or _plain_link(link, keep),
        published=published or updated,
        updated=updated,
        authors=_json_authors(item) or authors,
        tags=[str(t) for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        language=_text(item, "language") or None,
        image_url=image,
    )
    guid = _text(item, "id").strip() or None
    return _titled(
        _Entry(guid=_entry_id(guid, keep), link=canonical_url(link, tracking=keep), raw=raw)
    )


def _entry_id(guid: str | None, keep: bool) -> str | None:
    return guid if guid is None or keep else strip_tracking_id(guid)


def _plain_link(link: str | None, keep: bool) -> str | None:
    """A link that is not http(s) (so has no canonical form), as stored."""
    if not link:
        return None
    return link if keep else strip_tracking(link)


def _titled(entry: _Entry) -> _Entry:
    """An entry without a title gets one from its text (or, with no text, its link); one
    with neither text nor link is marked empty."""
    raw = entry.raw
    if raw.title.strip():
        return entry
    title = title_from_html(raw.body_html or "") or title_from_html(raw.summary)
    has_text = bool(title)
    title = title or title_from_link(raw.url)
    entry.untitled = True
    entry.empty = not title and not has_text
    raw.title = title
    return entry


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- identity ------------------------------------------------------------------------------


def _usable(values: Sequence[str | None]) -> bool:
    """Whether these keys tell every entry apart: none blank, none repeated."""
    present = [v for v in values if v]
    return len(present) == len(values) and len(set(present)) == len(present)


def content_key(raw: RawArticle) -> str:
    payload = "\n".join([raw.title.strip(), raw.url or "", raw.body_html or raw.body_text or ""])
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]


def _hash_key(entry: _Entry) -> str:
    """An untitled entry is its text and its date (its derived title adds nothing, and a
    better derivation later must not make it a new entry); others as `content_key`."""
    if entry.untitled:
        raw = entry.raw
        text = normalize.html_to_text(raw.body_html or raw.summary or "")
        return text_key(text or raw.url or "", raw.published)
    return content_key(entry.raw)


def _bounded(guid: str) -> str:
    if len(guid) <= MAX_GUID_CHARS:
        return guid
    return "sha256:" + hashlib.sha256(guid.encode("utf-8")).hexdigest()


def _identify(entries: list[_Entry], *, url: str) -> ParsedFeed:
    """Give every entry of one document its guid, by the first rule that works for all."""
    empty = sum(1 for e in entries if e.empty)
    if empty:
        entries = [e for e in entries if not e.empty]
    guids = [e.guid for e in entries]
    links = [e.link for e in entries]
    if _usable(guids):
        rule, keys = "guid", [g or "" for g in guids]
    elif _usable(links):
        rule, keys = "link", [k or "" for k in links]
        if any(guids):
            log.warning("%s: guids are blank or repeated; entries identified by their link", url)
    else:
        rule, keys = "hash", [_hash_key(e) for e in entries]
        if any(guids) or any(links):
            log.warning(
                "%s: guids and links are blank or repeated; entries identified by content", url
            )
    result = ParsedFeed(title=None, entries=[], identity=rule, empty=empty)
    seen: set[str] = set()
    for entry, key in zip(entries, keys, strict=True):
        key = _bounded(key)
        if key in seen:  # the very same entry twice: keep the first
            continue
        seen.add(key)
        entry.raw.guid = key
        if entry.raw.published is None:
            result.undated.add(key)
        result.entries.append(entry.raw)
    return result


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else "malformed document"
