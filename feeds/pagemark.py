"""The mark of a page build: what it saw of the store (`db.pages.PageMark`), kept in
`.rassegna-pages-mark.json` beside the pages, so that the next build can tell whether only
new articles were stored since and then follow just those (`feeds.sitebuild`)."""

from __future__ import annotations

import json
from dataclasses import astuple
from pathlib import Path

from db.pages import PageMark, PageReader, PageStamp
from feeds.build import BuildState
from feeds.common import is_web_url
from feeds.sitemaps import OTHER_GROUP, group_of

PAGES_MARK = ".rassegna-pages-mark.json"
# More new articles than this: one full pass costs less than following each one.
_MAX_NEW = 500


def indexed(stamp: PageStamp) -> bool:
    """Whether the page of `stamp` is listed in `sitemap.xml` (excerpt pages are not)."""
    return bool(stamp.page_path) and not is_web_url(stamp.url)


def mark_of(key: str, mark: PageMark, parts: list[list[str]]) -> bytes:
    """The mark file: the store's `PageMark`, `key`, the fingerprint of what every page
    depends on beside the store (templates, settings, version, the sections), and the
    parts of `sitemap.xml` as (path, group, lastmod)."""
    return json.dumps({"pages": key, "store": list(astuple(mark)), "sitemaps": parts}).encode()


def new_since(
    reader: PageReader, out_dir: Path, key: str, mark: PageMark, state: BuildState
) -> tuple[dict[int, PageStamp], list[list[str]]] | None:
    """The stamps of the articles stored since the last build, when they are all that
    changed, and the last build's sitemap parts (None: something else changed, or there
    is no usable mark: a full pass)."""
    try:
        saved = json.loads((out_dir / PAGES_MARK).read_bytes())
        newest, edits, shown, linked, topics, results = saved["store"]
        before = PageMark(newest, edits, shown, linked, (topics[0], topics[1]), results)
        parts = [
            [str(name), str(group), str(lastmod)] for name, group, lastmod in saved["sitemaps"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if saved.get("pages") != key or not state.files:
        return None
    if (mark.edits, mark.results, mark.linked) != (before.edits, before.results, before.linked):
        return None
    changes = reader.changes()
    ids = changes.new_ids(before)
    if len(ids) > _MAX_NEW or mark.shown != before.shown + len(ids):
        return None
    new = changes.stamps(ids)
    rows = sum(len(s.topics) for s in new.values())
    weight = sum(s.id * len(s.topics) for s in new.values())
    if mark.topics != (before.topics[0] + rows, before.topics[1] + weight):
        return None
    if any(group_of(s.page_path) == OTHER_GROUP for s in new.values() if indexed(s)):
        return None
    return new, parts
