"""The mark of a page build: what it saw of the store (`db.pages.PageMark`), kept in
`.rassegna-pages-mark.json` beside the pages, so that the next build can tell whether only
new articles were stored since and then follow just those (`feeds.sitebuild`).

Beside the store's mark, the file keeps what the sitemaps say of the pages the next
build may leave alone: the parts of `sitemap.xml`, the newest date of the store (the home
page's `lastmod`) and the `lastmod` of every section page. So an incremental build reads
only the sections the new articles are in, and never a whole-store aggregate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree

from db.pages import PageMark, PageReader, PageStamp
from db.stamps import Stamp
from db.store import Store
from feeds.build import BuildState
from feeds.common import is_web_url, local
from feeds.pages import section_page_path
from feeds.sections import FeedKind, FeedSpec
from feeds.site import SiteInfo
from feeds.sitemaps import OTHER_GROUP, SECTIONS_GROUP, SITEMAP_NS, group_of

PAGES_MARK = ".rassegna-pages-mark.json"
# More new articles than this: one full pass costs less than following each one.
_MAX_NEW = 500

_LOC = f"{{{SITEMAP_NS}}}loc"
_LASTMOD = f"{{{SITEMAP_NS}}}lastmod"

SectionDates = dict[str, list[str]]
"""The `lastmod` of each page of each section, by section folder ("": nothing dated)."""


def indexed(stamp: PageStamp) -> bool:
    """Whether the page of `stamp` is listed in `sitemap.xml` (excerpt pages are not)."""
    return bool(stamp.page_path) and not is_web_url(stamp.url)


@dataclass(frozen=True, slots=True)
class Since:
    """What an incremental build takes over: the stamps of the articles stored since the
    last build (`new`), the sections they are in (`touched`, as (kind, slug)), the
    sitemap groups to list again (`groups`: theirs, and those whose part is not as the
    last build wrote it), what the last build's mark kept (see the module), and the
    entries (address, lastmod) of the parts of `groups` that a new article joins, read
    back from them (`kept`: a month's part is not listed from the store again)."""

    new: dict[int, PageStamp]
    touched: set[tuple[str, str]]
    groups: set[str]
    parts: list[list[str]]
    newest: datetime | None
    sections: SectionDates
    kept: dict[str, list[tuple[str, str]]]

    def newest_now(self) -> datetime | None:
        """The newest publication or update date of the store: nothing but the new
        articles changed since the last build saw `newest`."""
        dates = [d for s in self.new.values() for d in (s.published, s.updated)]
        if self.newest is not None:
            dates.append(self.newest)
        return max(dates) if dates else None

    def touching(self, specs: Sequence[FeedSpec]) -> list[FeedSpec]:
        """The sections among `specs` that a new article is listed in."""
        return [s for s in specs if (s.kind, s.slug) in self.touched]

    def untouched(self, specs: Sequence[FeedSpec]) -> list[FeedSpec]:
        """The sections among `specs` (not the root) that no new article is listed in."""
        return [
            s for s in specs if s.kind != FeedKind.ROOT and (s.kind, s.slug) not in self.touched
        ]

    def keep(self, specs: Sequence[FeedSpec], dates: SectionDates, live: set[str]) -> SectionDates:
        """`dates` of the sections built now, with those the last build saw of the others,
        whose pages are added to `live`."""
        kept = dict(dates)
        for spec in self.untouched(specs):
            kept[spec.folder] = self.sections[spec.folder]
            live.update(section_page_path(spec, n) for n in range(1, len(kept[spec.folder]) + 1))
        return kept


def section_dates(
    store: Store,
    site: SiteInfo,
    listed: Sequence[tuple[FeedSpec, Sequence[tuple[int, Sequence[Stamp]]]]],
) -> SectionDates:
    """The `lastmod` of each page of the sections `listed` (as (spec, pages), each page
    as (number, stamps)): the newest publication or update date of what it lists, in the
    site's time zone ("" when it lists nothing shown)."""
    ids = [i for _, pages in listed for _, chunk in pages for i, _, _ in chunk]
    with store.page_reader() as reader:
        known = reader.dates(ids)
    dates: SectionDates = {}
    for spec, pages in listed:
        dates[spec.folder] = []
        for _, chunk in pages:
            changed = [max(known[i]) for i, _, _ in chunk if i in known]
            lastmod = local(max(changed), site.tz).isoformat() if changed else ""
            dates[spec.folder].append(lastmod)
    return dates


def mark_of(
    key: str,
    mark: PageMark,
    parts: list[list[str]],
    newest: datetime | None,
    sections: SectionDates,
) -> bytes:
    """The mark file: the store's `PageMark`, `key`, the fingerprint of what every page
    depends on beside the store (templates, settings, version, the sections), the parts
    of `sitemap.xml` as (path, group, lastmod), the newest date and the section pages'
    `lastmod`."""
    data: dict[str, Any] = {
        "pages": key,
        "store": list(astuple(mark)),
        "sitemaps": parts,
        "newest": newest.isoformat() if newest is not None else None,
        "sections": sections,
    }
    return json.dumps(data, sort_keys=True).encode()


def _saved(out_dir: Path) -> tuple[str, PageMark, list[list[str]], datetime | None, SectionDates]:
    """The last build's mark file; raises OSError, ValueError, KeyError or TypeError when
    it is missing, damaged or of another layout."""
    saved = json.loads((out_dir / PAGES_MARK).read_bytes())
    before = PageMark(*(int(v) for v in saved["store"]))
    parts = [[str(name), str(group), str(lastmod)] for name, group, lastmod in saved["sitemaps"]]
    newest = datetime.fromisoformat(saved["newest"]) if saved["newest"] is not None else None
    sections = {str(folder): [str(d) for d in dates] for folder, dates in saved["sections"].items()}
    return str(saved["pages"]), before, parts, newest, sections


def _touched(reader: PageReader, new: dict[int, PageStamp]) -> set[tuple[str, str]]:
    """The sections (kind, slug) the articles `new` are listed in."""
    touched: set[tuple[str, str]] = set()
    for category, source in reader.changes().homes(new).values():
        touched.add((FeedKind.SOURCE, source))
        if category is not None:
            touched.add((FeedKind.CATEGORY, category))
    for stamp in new.values():
        touched.update((FeedKind.TAG, slug) for slug in stamp.tags)
        touched.update((FeedKind.AUTHOR, slug) for slug in stamp.authors)
        touched.update((FeedKind.TOPIC, slug) for slug in stamp.topics)
    return touched


def new_since(
    reader: PageReader,
    out_dir: Path,
    key: str,
    mark: PageMark,
    state: BuildState,
    specs: Sequence[FeedSpec],
    base_url: str,
) -> Since | None:
    """What changed since the last build when only new articles were stored (None:
    something else changed, or there is no usable mark: a full pass). `base_url` is
    the site's, which the sitemap parts' addresses start with."""
    try:
        saved_key, before, parts, newest, sections = _saved(out_dir)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if saved_key != key or not state.files:
        return None
    if astuple(mark)[1:] != astuple(before)[1:]:
        return None  # an edit, a hidden or shown article, a new link, a topic's members
    if any(s.folder not in sections for s in specs if s.kind != FeedKind.ROOT):
        return None
    changes = reader.changes()
    ids = changes.new_ids(before)
    if len(ids) > _MAX_NEW:
        return None
    new = changes.stamps(ids)
    groups = {group_of(s.page_path) for s in new.values() if indexed(s)}
    kept = {g: _read_parts(out_dir, state, parts, g, base_url) for g in groups}
    # A sitemap part or section page that is not as the last build left it (deleted by
    # hand, say) is built again: a stat or two per file.
    for name, group, _ in parts:
        if group != SECTIONS_GROUP and not _as_left(state, name):
            groups.add(group)
    if OTHER_GROUP in groups:
        return None  # listed by address only for months
    found = {g: entries for g, entries in kept.items() if entries is not None}
    since = Since(new, _touched(reader, new), groups, parts, newest, sections, found)
    for spec in since.untouched(specs):
        for number in range(1, len(sections[spec.folder]) + 1):
            if not _as_left(state, section_page_path(spec, number)):
                since.touched.add((spec.kind, spec.slug))
                break
    return since


def _as_left(state: BuildState, path: str) -> bool:
    """Whether `path` and its gzip twin are as the last build wrote them."""
    entry = state.files.get(path)
    return entry is not None and state.fresh_with_gzip(path, str(entry.get("fp")))


def _read_parts(
    out_dir: Path, state: BuildState, parts: list[list[str]], group: str, base_url: str
) -> list[tuple[str, str]] | None:
    """The (address, lastmod) the last build listed in the parts of `group`, read back
    from them (None: one is not as it wrote it, or unreadable)."""
    prefix = base_url.rstrip("/") + "/"
    entries = []
    for name in (name for name, g, _ in parts if g == group):
        if not _as_left(state, name):
            return None
        try:
            root = etree.parse(str(out_dir / name)).getroot()
        except (OSError, etree.XMLSyntaxError):
            return None
        for url in root:
            # Each entry as `feeds.sitemaps` writes it, its loc then its lastmod (by
            # position: `findtext` for each cost more than parsing the part).
            if len(url) != 2 or url[0].tag != _LOC or url[1].tag != _LASTMOD:
                return None
            loc, lastmod = url[0].text or "", url[1].text or ""
            if not (lastmod and loc.startswith(prefix) and loc.endswith("/")):
                return None
            entries.append((loc[len(prefix) : -1], lastmod))
    return entries
