"""Identity of a feed document's entries: which key tells them apart (guid, canonical
link or content hash), decided once for the whole document, and `ParsedFeed`, what the
document held once every entry has its key.

Rules, in order: the entries' guids / ids; else their canonical links (tracking
parameters removed, host lower-cased, no fragment); else a hash of each entry's title,
link and content. When any guid of a document is blank or repeated, guids cannot tell its
entries apart, so the whole document moves to the next rule (and the log says so);
likewise for links.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest import normalize
from ingest.raw import RawArticle
from ingest.untitled import text_key

log = logging.getLogger("rassegna.ingest.feed")

MAX_GUID_CHARS = 1000


@dataclass(slots=True)
class FeedEntry:
    """An entry before identity is decided."""

    guid: str | None
    link: str | None  # canonical
    raw: RawArticle
    untitled: bool = False  # the title was derived from the text (see ingest.untitled)
    empty: bool = False  # no title, no text, no link: nothing to take in


@dataclass(slots=True)
class ParsedFeed:
    """What one feed document held."""

    title: str | None
    entries: list[RawArticle]
    bozo: str | None = None  # why the document was malformed, when it was
    min_interval: int | None = None  # from <ttl> or sy:updatePeriod, seconds
    min_interval_origin: str | None = None  # which: "RSS ttl" or "sy:updatePeriod"
    identity: str = "guid"  # the rule that identified this document's entries
    undated: set[str] = field(default_factory=set)  # guids of entries with no usable date
    encoding: str = ""
    dropped: int = 0  # entries beyond the cap (ingest.feed.FeedLimits.max_entries), not read
    empty: int = 0  # entries with no title, no text and no link, skipped


def _usable(values: Sequence[str | None]) -> bool:
    """Whether these keys tell every entry apart: none blank, none repeated."""
    present = [v for v in values if v]
    return len(present) == len(values) and len(set(present)) == len(present)


def content_key(raw: RawArticle) -> str:
    payload = "\n".join([raw.title.strip(), raw.url or "", raw.body_html or raw.body_text or ""])
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]


def _hash_key(entry: FeedEntry) -> str:
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


def identify(entries: list[FeedEntry], *, url: str) -> ParsedFeed:
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
