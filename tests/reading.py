"""Reading published feeds back as a subscriber would, for the tests: XPath with the
namespaces the feeds use, feedparser that must not complain, and walks along the archive
links (RFC 5005 `prev-archive` in Atom and RSS, `next_url` in JSON Feed) to the oldest
document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import feedparser
from lxml import etree

NAMESPACES = {
    "a": "http://www.w3.org/2005/Atom",
    "fh": "http://purl.org/syndication/history/1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def xpath(node: Any, expr: str) -> list[Any]:
    """An XPath node-set or string list, typed for mypy (lxml types every result shape)."""
    found = node.xpath(expr, namespaces=NAMESPACES)
    assert isinstance(found, list)
    return found


def parsed(path: Path) -> feedparser.FeedParserDict:
    """feedparser's reading of the file at `path`, which must raise no complaint."""
    result = feedparser.parse(path.read_bytes())
    assert result.bozo == 0, f"{path}: {result.get('bozo_exception')}"
    return result


def local_path(out: Path, base: str, url: str) -> Path:
    """The file under `out` that the published address `url` (under `base`) serves."""
    assert url.startswith(base), url
    return out / url.removeprefix(base)


def walk_atom(
    out: Path, base: str, start: Path, schema: etree.RelaxNG
) -> tuple[list[str], list[Path]]:
    """Follow Atom `prev-archive` from `start` to the end, each document valid against
    `schema` and read cleanly by feedparser: every entry id met, and the documents."""
    return _walk(out, base, start, "/a:feed/a:entry/a:id/text()", "/a:feed", schema)


def walk_rss(out: Path, base: str, start: Path) -> tuple[list[str], list[Path]]:
    """Follow RSS `atom:link rel="prev-archive"` from `start` to the end, each document
    read cleanly by feedparser: every item guid met, and the documents."""
    return _walk(out, base, start, "/rss/channel/item/guid/text()", "/rss/channel", None)


def _walk(
    out: Path, base: str, start: Path, ids_at: str, links_in: str, schema: etree.RelaxNG | None
) -> tuple[list[str], list[Path]]:
    ids: list[str] = []
    seen: list[Path] = []
    path: Path | None = start
    while path is not None:
        assert path not in seen, "prev-archive loops"
        seen.append(path)
        tree = etree.parse(str(path))
        if schema is not None:
            assert schema.validate(tree), f"{path}: {schema.error_log}"
        parsed(path)
        ids += xpath(tree, ids_at)
        prev = xpath(tree, f"{links_in}/a:link[@rel='prev-archive']/@href")
        path = local_path(out, base, prev[0]) if prev else None
    return ids, seen


def walk_json(out: Path, base: str, start: Path) -> list[str]:
    """Follow JSON Feed `next_url` from `start` to the end: every item id met."""
    ids: list[str] = []
    path: Path | None = start
    while path is not None:
        document = json.loads(path.read_bytes())
        assert document["version"] == "https://jsonfeed.org/version/1.1"
        ids += [item["id"] for item in document["items"]]
        path = local_path(out, base, document["next_url"]) if "next_url" in document else None
    return ids
