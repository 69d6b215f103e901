"""Build every feed from the store into the output folder, rewriting only what changed.

Each feed's inputs (its articles' ids and dates, the site settings, the renderer version)
are hashed into a fingerprint kept in `.rassegna-build.json` beside the output, together
with the size and mtime of each file written. When a feed's fingerprint and its files are
unchanged, rendering is skipped altogether; otherwise the files are rendered and replaced
atomically only if their bytes differ (`feeds.publish`), each with its `.gz` twin.

With archives on (`SiteInfo.archive_page_size`), every full page of a feed's history is
written once under `<feed folder>/archivio/<n>/` and never rewritten (`feeds.archive`).

Every file a build publishes is recorded in the state; a recorded file that the current
plan no longer produces (a category, source or tag that is gone) is deleted with its
`.gz`, and so are the folders it leaves empty. Files we did not write are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from db.records import StoredArticle
from db.stamps import Stamp
from db.store import Store
from feeds.archive import DEFAULT_MAX_PAGES, full_pages, shown_items
from feeds.caches import TextHandover
from feeds.counts import section_sizes
from feeds.errors import FeedError
from feeds.index import render_opml
from feeds.jsonfeed import ItemCache, render_json
from feeds.pages import Templates, render_home
from feeds.publish import GZIP_SUFFIX, fsync_dir, write_atomic
from feeds.render import NO_HISTORY, EntryCache, History, render_xml
from feeds.sections import FeedSpec, archive_spec, plan_feeds
from feeds.site import SiteInfo
from feeds.writers import Publisher as Publisher
from feeds.xsl import FEED_XSL, stylesheet

log = logging.getLogger("rassegna.feeds")

STATE_FILE = ".rassegna-build.json"
INDEX = "index.html"
OPML = "opml.xml"
# Bump whenever rendering changes, so the next build re-renders every feed.
RENDER_VERSION = "8"
# The fingerprint of archive pages: they are never rendered again once written.
ARCHIVE_FP = "archive"


# The file names of a feed, in every feed folder (sections, archives).
_FEED_FILES = frozenset({"rss.xml", "atom.xml", "feed.json"})


@dataclass(frozen=True, slots=True)
class WrittenCounts:
    """How many files a build wrote, by kind: feeds, HTML pages, and the rest (sitemaps,
    OPML, robots.txt, stylesheets)."""

    feeds: int
    pages: int
    other: int

    @property
    def total(self) -> int:
        return self.feeds + self.pages + self.other

    def __str__(self) -> str:
        return (
            f"{self.total} files written"
            f" ({self.feeds} feeds, {self.pages} pages, {self.other} other)"
        )


@dataclass(slots=True)
class BuildReport:
    """What a build did: output-relative paths written and left unchanged, and the feeds."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    feeds: list[FeedSpec] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # Missing archive pages beyond this build's cap, written by the next builds.
    archive_pages_pending: int = 0

    @property
    def changed_feeds(self) -> list[FeedSpec]:
        """Feeds with at least one file rewritten (those a WebSub hub should hear about)."""
        written = set(self.written)
        return [f for f in self.feeds if any(p in written for p in f.paths)]

    def written_counts(self) -> WrittenCounts:
        """The written files counted by kind (a feed file by its name, a page by `.html`)."""
        names = [path.rsplit("/", 1)[-1] for path in self.written]
        feeds = sum(1 for name in names if name in _FEED_FILES)
        pages = sum(1 for name in names if name.endswith(".html"))
        return WrittenCounts(feeds, pages, len(names) - feeds - pages)


def feed_fingerprint(site: str, spec: FeedSpec, stamps: Sequence[Stamp], pages: int = 0) -> str:
    """A hash of everything a feed's bytes depend on, far cheaper than rendering it;
    `site` is the site settings' repr (made once per build: the same for every feed).

    An article's content hash covers everything ingest gave it (text, category, tags...)
    and `updated` the date the store gave it; category and tag names are fixed once
    created, and the source of an article never changes.
    """
    digest = hashlib.sha256(f"{RENDER_VERSION}\x00{site}\x00{spec!r}\x00{pages}".encode())
    # The stamps as one string (the same bytes as one by one), kept apart from the head:
    # section titles hold characters beyond Latin-1 (the "–" of "Sito – Sezione"), which
    # would make the whole joined string wide and slow to encode; the stamps are ASCII.
    body = "".join([f"\x00{i}|{content_hash}|{updated}" for i, content_hash, updated in stamps])
    digest.update(body.encode())
    return digest.hexdigest()


class BuildState:
    """The fingerprints and file stats of the previous build."""

    def __init__(self, root: Path, name: str = STATE_FILE, version: str = RENDER_VERSION) -> None:
        self.root = root
        self.version = version
        # str paths for the per-file checks of a no-change build: building a Path for each
        # cost more than the stat itself (PTH rules waived below for that reason).
        self._prefix = f"{root}{os.sep}"
        self.path = root / name
        self.files: dict[str, dict[str, Any]] = {}
        # What the build keeps of the store beside the files (`feeds.counts`).
        self.counts: Any = None
        self.dirty = False
        try:
            loaded = json.loads(self.path.read_bytes())
            if isinstance(loaded, dict) and loaded.get("version") == version:
                self.files = dict(loaded.get("files", {}))
                self.counts = loaded.get("counts")
        except (OSError, ValueError):
            # No state (first build) or a damaged one: everything is rendered again.
            self.files = {}

    def fresh(self, relative: str, fingerprint: str) -> bool:
        """Whether `relative` was built from `fingerprint` and is still the file we wrote."""
        entry = self.files.get(relative)
        if not entry or entry.get("fp") != fingerprint:
            return False
        try:
            st = os.stat(self._prefix + relative)  # noqa: PTH116
        except OSError:
            return False
        return bool(st.st_size == entry.get("size") and st.st_mtime_ns == entry.get("mtime_ns"))

    def fresh_with_gzip(self, relative: str, fingerprint: str) -> bool:
        """`fresh`, and its `.gz` twin is there too."""
        gz = self._prefix + relative + GZIP_SUFFIX
        return self.fresh(relative, fingerprint) and os.path.exists(gz)  # noqa: PTH110

    def record(self, relative: str, fingerprint: str, stat: os.stat_result | None = None) -> None:
        """Remember `relative` as built from `fingerprint`; `stat` is its stat when the
        caller has it already."""
        st = stat if stat is not None else (self.root / relative).stat()
        entry = {"fp": fingerprint, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        if self.files.get(relative) != entry:
            self.files[relative] = entry
            self.dirty = True

    def forget(self, relative: str) -> None:
        if self.files.pop(relative, None) is not None:
            self.dirty = True

    def save(self, *, fsync: bool) -> None:
        if not self.dirty:
            return
        # No indent: an indented dump runs json's pure-Python encoder, and a state holds
        # an entry per page of the site.
        kept = {"version": self.version, "files": self.files}
        if self.counts is not None:
            kept["counts"] = self.counts
        data = json.dumps(kept, sort_keys=True, separators=(",", ":")).encode()
        write_atomic(self.root, self.path.name, data, fsync=fsync)


def _ensure_root(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FeedError(
            f"output.dir {out_dir}: cannot create the folder: {exc.strerror or exc}"
        ) from exc
    if not os.access(out_dir, os.W_OK):
        raise FeedError(f"output.dir {out_dir}: cannot write into the folder: Permission denied")


def _fingerprint(*parts: object) -> str:
    digest = hashlib.sha256(RENDER_VERSION.encode())
    for part in parts:
        digest.update(b"\x00" + repr(part).encode())
    return digest.hexdigest()


def exists_with_gzip(out_dir: Path, relative: str) -> bool:
    # str paths: pathlib cost more than the stats (a no-change build checks every file).
    path = f"{out_dir}{os.sep}{relative}"
    return os.path.exists(path) and os.path.exists(path + GZIP_SUFFIX)  # noqa: PTH110


# Articles whose entry and JSON item a build keeps at most (least recently used go first).
# An entry holds an article's text about four times (feedgen's fields, the RSS and Atom
# elements, the JSON item): this bounds a first build over a long history, while covering
# the articles of the current feeds of a usual configuration, which every build reads again.
_CACHE_LIMIT = 2_000


@dataclass(frozen=True, slots=True)
class _Planned:
    """One feed of a build: what it shows now (`stamps`) and the fingerprint of that."""

    spec: FeedSpec
    fingerprint: str
    shown: int
    total: int
    pages: int
    stamps: list[Stamp]


def _stamp_feeds(
    store: Store,
    site: SiteInfo,
    specs: Sequence[FeedSpec],
    state: BuildState | None = None,
) -> tuple[list[_Planned], list[Stamp]]:
    """What each feed (and the index) shows now, as stamps, with its fingerprint. The
    section counts the archives need are kept in `state` (`feeds.counts`)."""
    page_size = site.archive_page_size
    sizes = {}
    if page_size > 0:
        sizes = section_sizes(store, state, authors=site.author_feeds)
    planned: list[_Planned] = []
    site_repr = repr(site)
    wanted = []
    for spec in specs:
        total = sizes.get((spec.kind, spec.slug), 0)
        shown = shown_items(site.limit(spec.kind), total, page_size)
        wanted.append((spec, total, shown))
    # Every feed's stamps in one go: an article is in several feeds, read once.
    with store.stamp_reader() as reader:
        *stamped, index_stamps = reader.latest_of(
            [*((shown, spec.section) for spec, _, shown in wanted), (site.index_articles, None)]
        )
    for (spec, total, shown), stamps in zip(wanted, stamped, strict=True):
        pages = full_pages(total, page_size)
        fingerprint = feed_fingerprint(site_repr, spec, stamps, pages)
        planned.append(_Planned(spec, fingerprint, shown, total, pages, stamps))
    return planned, index_stamps


def shown_article_ids(store: Store, site: SiteInfo) -> set[int]:
    """The ids of every article a published feed shows now: retention must never delete
    those (readers may still open them). The index page is rebuilt from what is left."""
    planned, _ = _stamp_feeds(store, site, plan_feeds(store, site))
    return {i for plan in planned for i, _, _ in plan.stamps}


def build_feeds(
    store: Store,
    site: SiteInfo,
    out_dir: Path,
    *,
    fsync: bool = True,
    max_archive_pages: int = DEFAULT_MAX_PAGES,
) -> BuildReport:
    """Write every feed (RSS, Atom, JSON Feed), its archives, `index.html` and `opml.xml`.

    Files whose bytes did not change are not rewritten; `fsync=False` trades durability
    for speed (tests, benchmarks). At most `max_archive_pages` missing archive pages are
    written, newest first; the others are left for the next builds
    (`BuildReport.archive_pages_pending`). Raises FeedError when the output cannot be
    written.
    """
    _ensure_root(out_dir)
    state = BuildState(out_dir)
    report = BuildReport()
    live: set[str] = set()  # every file this build stands for, written or not
    specs = plan_feeds(store, site)
    report.feeds = specs
    # Sizes and stamps first, all at once: when the stamps match the last build, articles
    # are never loaded.
    planned, index_stamps = _stamp_feeds(store, site, specs, state)
    caches = build_caches(site)
    with Publisher(out_dir, state, report, fsync=fsync) as publisher:
        report.archive_pages_pending = _publish_archives(
            store, site, planned, out_dir, publisher, live, max_archive_pages, caches
        )
        _publish_current(store, site, planned, index_stamps, publisher, live, caches)
        _publish_stylesheet(out_dir, state, publisher, live)
        publisher.finish()

    report.removed = remove_stale(out_dir, state, live)
    state.save(fsync=fsync)
    if fsync:
        for folder in publisher.touched_folders():
            fsync_dir(folder)
    return report


Caches = tuple[EntryCache, ItemCache]


def build_caches(site: SiteInfo) -> Caches:
    """One entry and JSON item per article for a whole build, with one text handover:
    an article is listed in the root feed, its category, source, tag... feeds and in each
    one's archive pages, and its texts are the same in every format."""
    texts = TextHandover(site.link)
    return (
        EntryCache(site, limit=_CACHE_LIMIT, texts=texts),
        ItemCache(site, limit=_CACHE_LIMIT, texts=texts),
    )


def _publish_current(
    store: Store,
    site: SiteInfo,
    planned: Sequence[_Planned],
    index_stamps: Sequence[Stamp],
    publisher: Publisher,
    live: set[str],
    caches: Caches,
) -> None:
    """The subscription documents of every feed whose stamps changed, then the index
    and the OPML list."""
    state, out_dir = publisher.state, publisher.out_dir
    specs = [plan.spec for plan in planned]
    templates = Templates(site)
    index_fp = _fingerprint(site, specs, index_stamps, templates.fingerprint)

    def fresh(plan: _Planned) -> bool:
        return all(state.fresh_with_gzip(p, plan.fingerprint) for p in plan.spec.paths)

    stale = [plan for plan in planned if not fresh(plan)]
    index_stale = not (state.fresh(INDEX, index_fp) and exists_with_gzip(out_dir, INDEX))
    # Every article sits in the root feed and in its category, source and tag feeds: the
    # union of what the stale feeds (and the index) show is read once, then each feed is
    # sliced from it in its stamps' order. At most (number of feeds x limit) articles.
    wanted = [i for plan in stale for i, _, _ in plan.stamps]
    if index_stale:
        wanted += [i for i, _, _ in index_stamps]
    loaded = store.articles_by_ids(wanted) if wanted else {}

    def articles_of(stamps: Sequence[Stamp]) -> list[StoredArticle]:
        # An article deleted since its stamp was read is left out; the fingerprint then
        # no longer matches the next build's stamps, so the feed is rendered again.
        return [loaded[i] for i, _, _ in stamps if i in loaded]

    stale_folders = {plan.spec.folder for plan in stale}
    for plan in planned:
        live.update(plan.spec.paths)
        if plan.spec.folder in stale_folders:
            # If the store changed since the stamps were read, the files are newer than
            # their fingerprint says, so the next build renders them again: never stale,
            # at worst rendered twice.
            _publish_feed(site, plan, articles_of(plan.stamps), publisher, caches)
        else:
            publisher.report.unchanged.extend(plan.spec.paths)

    live.update((INDEX, OPML))
    if index_stale:
        home = render_home(templates, site, specs, articles_of(index_stamps))
        publisher.publish(((INDEX, home),), index_fp)
    else:
        publisher.report.unchanged.append(INDEX)
    opml_fp = _fingerprint(site, specs)
    if state.fresh(OPML, opml_fp) and exists_with_gzip(out_dir, OPML):
        publisher.report.unchanged.append(OPML)
    else:
        publisher.publish(((OPML, render_opml(site, specs)),), opml_fp)


def _publish_feed(
    site: SiteInfo,
    plan: _Planned,
    articles: Sequence[StoredArticle],
    publisher: Publisher,
    caches: Caches,
) -> None:
    """Render one feed's subscription documents and hand them to the writers."""
    entries, items = caches
    spec = plan.spec
    newest_page = archive_spec(spec, plan.pages) if plan.pages else None
    history = History(prev_archive=newest_page) if newest_page else NO_HISTORY
    xml = render_xml(site, spec, articles, entries, history)
    publisher.publish(
        (
            (spec.rss_path, xml.rss),
            (spec.atom_path, xml.atom),
            (spec.json_path, render_json(site, spec, articles, items, newest_page)),
        ),
        plan.fingerprint,
    )


def _publish_archives(
    store: Store,
    site: SiteInfo,
    planned: Sequence[_Planned],
    out_dir: Path,
    publisher: Publisher,
    live: set[str],
    budget: int,
    caches: Caches,
) -> int:
    """Write up to `budget` missing archive pages, one page in memory at a time; never
    rewrite one. Returns how many missing pages are left for later builds.

    The first build over a long history would otherwise render thousands of pages and
    hold every feed's whole history at once, gigabytes for a large store. Here a page
    loads only its own rows: the newest missing page of a run by its offset from the
    oldest article (new articles never move it), each older one by a keyset read before
    the page after it. The newest pages of every feed go first, so that the subscription
    document's `prev-archive` leads to a real page as soon as possible and new pages in
    steady state never wait behind a backlog; walking back, a reader meets the backfill's
    frontier last.
    """
    missing: list[list[int]] = []
    for plan in planned:
        pages = []
        for page in range(1, plan.pages + 1):
            paths = archive_spec(plan.spec, page).paths
            live.update(paths)
            if not all(exists_with_gzip(out_dir, p) for p in paths):
                pages.append(page)
        missing.append(pages)
    # Round robin by depth: every feed's newest missing page, then the next newest...
    chosen: list[list[int]] = [[] for _ in planned]
    depth, left = 0, max(budget, 0)
    while left > 0:
        found = False
        for pages, picks in zip(missing, chosen, strict=True):
            if depth < len(pages):
                found = True
                picks.append(pages[-1 - depth])
                left -= 1
                if left == 0:
                    break
        if not found:
            break
        depth += 1
    pending = sum(len(pages) for pages in missing) - sum(len(picks) for picks in chosen)
    # The pages of every feed interleaved by where they sit in their feed's history (page
    # / pages: 1.0 is the newest), newest first: pages covering the same days come close
    # together, so an article met in the root feed's page is still in the bounded entry
    # cache when its category, source and tag pages come. Within a feed the order stays
    # newest first (each pick list already is).
    work = sorted(
        (
            (-page / plan.pages, index, page)
            for index, (plan, picks) in enumerate(zip(planned, chosen, strict=True))
            for page in picks
        ),
    )
    previous: dict[int, tuple[int, tuple[datetime, int]]] = {}  # feed -> last page, its key
    failed: set[int] = set()
    for _, index, page in work:
        if index in failed:
            continue
        plan = planned[index]
        oldest = _write_page_of(
            store, site, plan, page, previous.get(index), out_dir, publisher, caches
        )
        if oldest is None:
            failed.add(index)
            pending += 1  # at least; the next build counts again
        else:
            previous[index] = (page, oldest)
    return pending


def _write_page_of(
    store: Store,
    site: SiteInfo,
    plan: _Planned,
    page: int,
    previous: tuple[int, tuple[datetime, int]] | None,
    out_dir: Path,
    publisher: Publisher,
    caches: Caches,
) -> tuple[datetime, int] | None:
    """Write one archive page of a feed; `previous` is the page of the same feed written
    last with its oldest article's (published, id). Returns this page's oldest key, or
    None if the store changed under the build and the page came out short (it is left
    for the next build, with the feed's older ones)."""
    spec, page_size = plan.spec, site.archive_page_size
    if previous is not None and previous[0] == page + 1:
        chunk = store.articles_before(page_size, previous[1], spec.section)
    else:
        chunk = store.oldest_articles(page_size, spec.section, offset=(page - 1) * page_size)
        chunk.reverse()  # newest first, like every feed
    if len(chunk) != page_size:
        # Articles were deleted since they were counted; a wrong page would be wrong for
        # good.
        log.warning(
            "%s: articles changed during the build; archives left for the next one",
            spec.folder or "root feed",
        )
        return None
    _write_page(site, spec, page, chunk, out_dir, publisher, caches)
    return (chunk[-1].published, chunk[-1].id)


def _write_page(
    site: SiteInfo,
    spec: FeedSpec,
    page: int,
    chunk: Sequence[StoredArticle],
    out_dir: Path,
    publisher: Publisher,
    caches: Caches,
) -> None:
    """Render and publish one archive page, its entries taken from the build's `caches`
    (bounded by `_CACHE_LIMIT`, so what a build holds does not grow with its pages)."""
    entries, items = caches
    this = archive_spec(spec, page)
    older = archive_spec(spec, page - 1) if page > 1 else None
    history = History(
        archive=True,
        current=spec,
        prev_archive=older,
        # The next page's URL is fixed in advance, so a page never needs rewriting to
        # link it (it answers 404 until it is full).
        next_archive=archive_spec(spec, page + 1),
    )
    xml = render_xml(site, this, chunk, entries, history)
    outputs = (
        (this.rss_path, xml.rss),
        (this.atom_path, xml.atom),
        (this.json_path, render_json(site, this, chunk, items, older)),
    )
    # Immutable: a file already there (say the page lost only its JSON) is kept.
    publisher.publish([(p, d) for p, d in outputs if not exists_with_gzip(out_dir, p)], ARCHIVE_FP)
    for relative in this.paths:
        publisher.adopt(relative, ARCHIVE_FP)


def _publish_stylesheet(
    out_dir: Path, state: BuildState, publisher: Publisher, live: set[str]
) -> None:
    """`feed.xsl`, the browser view of the feeds, at the output root."""
    data = stylesheet()
    fingerprint = _fingerprint(data)
    live.add(FEED_XSL)
    if state.fresh(FEED_XSL, fingerprint) and exists_with_gzip(out_dir, FEED_XSL):
        publisher.report.unchanged.append(FEED_XSL)
    else:
        publisher.publish(((FEED_XSL, data),), fingerprint)


def remove_stale(out_dir: Path, state: BuildState, live: set[str]) -> list[str]:
    """Delete the files an earlier build wrote that this one no longer stands for.

    Only files recorded in the state (ours) go, with their `.gz`; then the folders they
    leave empty, up to the output folder. Anything else in the output is left alone.
    """
    removed = []
    for relative in sorted(set(state.files) - live):
        for name in (relative, relative + GZIP_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                (out_dir / name).unlink()
        state.forget(relative)
        removed.append(relative)
        folder = (out_dir / relative).parent
        while folder != out_dir and out_dir in folder.parents:
            try:
                folder.rmdir()  # only when empty: a file of someone else's stays
            except OSError:
                break
            folder = folder.parent
    return removed
