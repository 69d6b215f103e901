"""Build the site's pages beside the feeds: article pages, section pages, sitemaps, robots.

Published like the feeds (`feeds.build`): atomic writes, bytes rewritten only when they
change, gzip twins, and state files (`feeds.pagestate`: `.rassegna-pages.json`, and one
per month of article addresses) holding each page's fingerprint, so a page whose inputs
did not change is neither loaded nor rendered.

- An article page (`articoli/<yyyy>/<mm>/<slug>/index.html`, the address the store minted
  once, `db.pages`) depends on the article's version, on the previous and next article
  of its chain (its category, else its source, in publication order), on which of its
  tags, authors and topics have section pages, and on the templates.
- A section page (`<kind>/<slug>/index.html`, then `pagina/2/`...) depends on the
  articles it lists; it lists `section_page_size` of them, at most `section_pages` deep.
- `sitemap.xml`, `sitemap-news.xml` and `robots.txt` are rebuilt when what they list does.

A full pass streams every article's page stamp. `.rassegna-pages-mark.json` keeps what
the build saw of the store (`db.pages.PageMark`); when the next build finds that only new
articles were stored since (no edit, nothing hidden, pruned or deleted, no new linked
source, the same sections, templates and settings), it reads only their stamps and those
of their previous and next articles, and checks only those pages.

So one new article rewrites its page, the page of the article before it in its chain,
the pages of the sections it is listed in, and the sitemaps (the home page is the feed
build's `index.html`). A template change, another rassegna version (`PAGES_VERSION`) or
other site settings change every fingerprint, and every page is rendered again once.
Pages of deleted articles and of sections that are gone are removed, with their twins
and emptied folders; files rassegna did not write are never touched.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from db.pages import ARTICLES_FOLDER, PageReader, PageStamp
from db.stamps import Stamp
from db.store import Store
from feeds.article_page import render_article
from feeds.build import BuildReport, BuildState, Publisher, remove_stale
from feeds.common import is_web_url, local, page_url, title_of
from feeds.pagemark import (
    PAGES_MARK,
    SectionDates,
    Since,
    indexed,
    mark_of,
    new_since,
    section_dates,
)
from feeds.pages import (
    INDEX,
    ListItems,
    Sections,
    Templates,
    has_page,
    render_section,
    section_page_path,
    section_page_url,
)
from feeds.pagestate import PagesState
from feeds.publish import fsync_dir, write_atomic
from feeds.sections import FeedKind, FeedSpec, plan_feeds
from feeds.site import SiteInfo
from feeds.sitemaps import (
    MAX_URLS,
    NEWS_SITEMAP,
    ROBOTS,
    SECTIONS_GROUP,
    SITEMAP,
    NewsEntry,
    SitemapEntry,
    group_of,
    month_prefix,
    news_cutoff,
    render_index,
    render_news_sitemap,
    render_part,
    render_robots,
    split_parts,
)

log = logging.getLogger("rassegna.feeds")

PAGES_STATE = ".rassegna-pages.json"
# Bump whenever page rendering changes, so the next build renders every page again.
PAGES_VERSION = "1"
# Article pages rendered per batch: the articles (and their neighbours) held at once.
_BATCH = 200


def _digest(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode() + b"\x00")
    return digest.hexdigest()


def _stamp_key(stamp: PageStamp | None) -> str:
    """What of an article its own page and its neighbours' links show, as a string."""
    if stamp is None:
        return "-"
    return f"{stamp.id}|{stamp.content_hash}|{stamp.updated.isoformat()}|{stamp.linked_sources}"


@dataclass(frozen=True, slots=True)
class _ArticlePage:
    id: int
    previous: int | None  # the ids of its neighbours in its chain
    following: int | None
    topics: tuple[str, ...]
    path: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class _Place:
    """An article in its chain (category, else source): its key (`_stamp_key`), and the
    ids and keys of the previous and next article."""

    stamp: PageStamp
    key: str
    previous: int | None
    previous_key: str
    following: int | None
    following_key: str


@dataclass(slots=True)
class _Files:
    """What a build knows of its files: the last build's state, this build's report, and
    the files it stands for (`live`; `remove_stale` deletes the others)."""

    state: BuildState
    report: BuildReport
    live: set[str] = field(default_factory=set)

    def fresh(self, path: str, fingerprint: str) -> bool:
        """Count `path` as live; whether it is as built from `fingerprint` (then it is
        reported unchanged and need not be rendered)."""
        self.live.add(path)
        if self.state.fresh_with_gzip(path, fingerprint):
            self.report.unchanged.append(path)
            return True
        return False


def _chains(stamps: Iterable[PageStamp]) -> Iterator[_Place]:
    """Every article's `_Place`; `stamps` come chain by chain, oldest first within one.
    Each key is made once, and only the article before and after are held."""
    current: tuple[PageStamp, str] | None = None
    previous: int | None = None
    previous_key = "-"
    for stamp in stamps:
        key = _stamp_key(stamp)
        if current is not None:
            held, held_key = current
            if held.chain == stamp.chain:
                yield _Place(held, held_key, previous, previous_key, stamp.id, key)
                previous, previous_key = held.id, held_key
            else:
                yield _Place(held, held_key, previous, previous_key, None, "-")
                previous, previous_key = None, "-"
        current = (stamp, key)
    if current is not None:
        yield _Place(current[0], current[1], previous, previous_key, None, "-")


@dataclass(slots=True)
class _Plan:
    """What one pass over the page stamps leaves for the rest of the build: the article
    pages to render, and what the sitemaps list (pages in the sitemap as (address, last
    change), and those of them in the news window)."""

    stale: list[_ArticlePage] = field(default_factory=list)
    indexed: list[tuple[str, datetime]] = field(default_factory=list)
    # Entries of `indexed` as the last build's sitemap parts dated them: (address, lastmod).
    kept: list[tuple[str, str]] = field(default_factory=list)
    recent: list[PageStamp] = field(default_factory=list)
    newest: datetime | None = None
    # The sitemap groups `indexed` covers (None: all of them), and the parts of the last
    # build as (path, group, lastmod), kept for the other groups.
    groups: set[str] | None = None
    parts: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Planner:
    """What planning the article pages takes beside the stamps: the site, the fingerprint
    part every page shares (`base`), the tags and authors with section pages (`linked`),
    the news sitemap's `cutoff`, and `check`, which tells whether a page is as built from
    a fingerprint."""

    site: SiteInfo
    base: str
    linked: tuple[set[str], set[str]]
    cutoff: datetime
    check: Callable[[str, str], bool]

    def place(self, place: _Place, plan: _Plan) -> None:
        """Plan the page of `place` when `check` does not find its fingerprint fresh."""
        stamp = place.stamp
        tags = ",".join(t for t in stamp.tags if t in self.linked[0])
        authors = ",".join(a for a in stamp.authors if a in self.linked[1])
        # One cheap hash of one string: this runs for every article of a full pass.
        text = "\x00".join(
            (
                self.base,
                place.key,
                stamp.page_path,
                place.previous_key,
                place.following_key,
                tags,
                authors,
                ",".join(stamp.topics),
            )
        )
        fingerprint = hashlib.blake2b(text.encode(), digest_size=20).hexdigest()
        path = f"{stamp.page_path}/{INDEX}"
        if not self.check(path, fingerprint):
            page = _ArticlePage(
                stamp.id, place.previous, place.following, stamp.topics, path, fingerprint
            )
            plan.stale.append(page)


def _plan_articles(reader: PageReader, planner: _Planner) -> _Plan:
    """Stream the page stamps once: each page whose fingerprint `check` does not find
    fresh is planned; the sitemaps' entries are gathered on the way."""
    site = planner.site
    plan = _Plan()
    # Without excerpt pages only chains holding a page matter (their remote articles are
    # still its neighbours).
    for place in _chains(reader.stamps(own_only=site.remote_pages != "excerpt")):
        stamp = place.stamp
        if not has_page(stamp, site):
            continue
        if not is_web_url(stamp.url):  # excerpt pages are `noindex`: no sitemap
            plan.indexed.append((stamp.page_path, max(stamp.updated, stamp.published)))
            if stamp.published >= planner.cutoff:
                plan.recent.append(stamp)
        planner.place(place, plan)
    plan.newest = reader.newest()
    return plan


def _plan_changed(reader: PageReader, since: Since, planner: _Planner) -> _Plan:
    """The plan of `_plan_articles` when only the articles `since.new` were stored since
    the last build: their pages and those of their previous and next articles are
    checked; the sitemaps' entries are read by address, for the months of `since.groups`
    only, without the labels of every article."""
    changes, new = reader.changes(), since.new
    around = {i: changes.neighbours(stamp) for i, stamp in new.items()}
    stamps = dict(new)
    near = {n for pair in around.values() for n in pair if n is not None} - set(stamps)
    stamps.update(changes.stamps(near))
    around.update({i: changes.neighbours(stamps[i]) for i in near if i in stamps})
    beyond = {n for pair in around.values() for n in pair if n is not None} - set(stamps)
    stamps.update(changes.stamps(beyond))
    site = planner.site
    plan = _Plan()
    for i in sorted(around):
        stamp = stamps.get(i)
        if stamp is None or not has_page(stamp, site):
            continue
        previous, following = around[i]
        before = stamps.get(previous) if previous is not None else None
        after = stamps.get(following) if following is not None else None
        place = _Place(
            stamp, _stamp_key(stamp), previous, _stamp_key(before), following, _stamp_key(after)
        )
        planner.place(place, plan)
    plan.parts = since.parts
    plan.groups = since.groups
    for group in sorted(plan.groups):
        kept = since.kept.get(group)
        if kept is not None:
            plan.kept += kept
            plan.indexed += [
                (s.page_path, max(s.updated, s.published))
                for s in new.values()
                if indexed(s) and group_of(s.page_path) == group
            ]
            continue
        prefix = month_prefix(group)
        assert prefix is not None  # `new_since` took the full pass for other groups
        rows = changes.listed(prefix)
        plan.indexed += [(path, max(updated, published)) for path, published, updated in rows]
    plan.recent = [
        s for s in changes.stamps(changes.recent_ids(planner.cutoff)).values() if has_page(s, site)
    ]
    plan.newest = since.newest_now()
    return plan


def build_pages(
    store: Store,
    site: SiteInfo,
    out_dir: Path,
    *,
    specs: Sequence[FeedSpec] | None = None,
    fsync: bool = True,
    now: datetime | None = None,
    sitemap_urls: int = MAX_URLS,
) -> BuildReport:
    """Write every article and section page, the sitemaps and `robots.txt` into `out_dir`
    (which `feeds.build.build_feeds` has created), rewriting only what changed. `specs`
    are the feed build's sections (planned again when not given); `now` dates the news
    sitemap's window (default: the clock); `sitemap_urls` is the most URLs one part of
    `sitemap.xml` lists. Raises FeedError when a file cannot be written."""
    when = now or datetime.now(UTC)
    state = PagesState(out_dir, PAGES_STATE, PAGES_VERSION)
    report = BuildReport()
    files = _Files(state, report)
    specs = list(specs) if specs is not None else plan_feeds(store, site)
    sections = Sections(site, specs)
    templates = Templates(site)
    base = _digest(PAGES_VERSION, templates.fingerprint, site)
    linked = (sections.linked_keys(FeedKind.TAG), sections.linked_keys(FeedKind.AUTHOR))
    planner = _Planner(site, base, linked, news_cutoff(when), files.fresh)
    key = _digest(base, list(specs), sitemap_urls)
    with store.page_reader() as reader:
        mark = reader.mark()
        since = new_since(reader, out_dir, key, mark, state, specs, site.base_url)
        if since is None:
            state.load_all()
            plan = _plan_articles(reader, planner)
        else:
            plan = _plan_changed(reader, since, planner)
    # Without a new article listed in it, a section's pages stay as they are.
    listing = _listing(store, site, specs if since is None else since.touching(specs))
    # An article rendered for its page is listed in sections too: its list item is made
    # then, not loaded again.
    items = ListItems(store, site, sections, {i for _, st in listing for i, _, _ in st})
    with Publisher(out_dir, state, report, fsync=fsync) as publisher:
        for start in range(0, len(plan.stale), _BATCH):
            batch = plan.stale[start : start + _BATCH]
            _render_articles(store, site, templates, sections, batch, publisher, items)
        section_stamps = _publish_sections(site, templates, items, listing, base, files, publisher)
        dates = section_dates(store, site, section_stamps)
        if since is not None:
            dates = since.keep(specs, dates, files.live)
        parts = _publish_sitemaps(store, site, plan, specs, dates, sitemap_urls, files, publisher)
        publisher.finish()
    if since is not None:
        # Pages of articles known before are all still live (nothing left the store);
        # section pages, sitemaps and robots.txt said above which of theirs are.
        files.live.update(p for p in state.files if p.split("/", 1)[0] == ARTICLES_FOLDER)
    report.removed = remove_stale(out_dir, state, files.live)
    state.save(fsync=fsync)
    write_atomic(out_dir, PAGES_MARK, mark_of(key, mark, parts, plan.newest, dates), fsync=fsync)
    if fsync:
        # A rename or a removal survives a power cut only once its folder is synced.
        for folder in publisher.touched_folders(report.removed):
            fsync_dir(folder)
    return report


def _render_articles(
    store: Store,
    site: SiteInfo,
    templates: Templates,
    sections: Sections,
    batch: Sequence[_ArticlePage],
    publisher: Publisher,
    items: ListItems,
) -> None:
    wanted = []
    for page in batch:
        wanted.append(page.id)
        wanted += [i for i in (page.previous, page.following) if i is not None]
    loaded = store.articles_by_ids(wanted)
    for page in batch:
        article = loaded.get(page.id)
        if article is None:
            continue  # deleted since the stamps were read: the next build drops its page
        previous = loaded.get(page.previous) if page.previous is not None else None
        following = loaded.get(page.following) if page.following is not None else None
        data = render_article(
            templates,
            site,
            sections,
            article,
            previous=previous,
            following=following,
            topics=page.topics,
        )
        publisher.publish(((page.path, data),), page.fingerprint)
        items.offer(article)


def _listing(
    store: Store, site: SiteInfo, specs: Iterable[FeedSpec]
) -> list[tuple[FeedSpec, list[Stamp]]]:
    """Each section of `specs` but the root, with the stamps of the latest articles its
    pages list."""
    listed = [spec for spec in specs if spec.kind != FeedKind.ROOT]
    depth = site.section_page_size * site.section_pages
    with store.stamp_reader() as reader:
        stamped = reader.latest_of([(depth, spec.section) for spec in listed])
    return list(zip(listed, stamped, strict=True))


def _publish_sections(
    site: SiteInfo,
    templates: Templates,
    items: ListItems,
    listed: Iterable[tuple[FeedSpec, list[Stamp]]],
    base: str,
    files: _Files,
    publisher: Publisher,
) -> list[tuple[FeedSpec, list[tuple[int, list[Stamp]]]]]:
    """The pages of each section listing `stamps` (its latest articles); returns each
    section's pages as (number, stamps)."""
    size = site.section_page_size
    done: list[tuple[FeedSpec, list[tuple[int, list[Stamp]]]]] = []
    for spec, stamps in listed:
        count = max(1, -(-len(stamps) // size))
        pages = [(n, stamps[(n - 1) * size : n * size]) for n in range(1, count + 1)]
        done.append((spec, pages))
        todo = []
        for number, chunk in pages:
            path = section_page_path(spec, number)
            fingerprint = _digest(base, spec, number, count, chunk)
            if not files.fresh(path, fingerprint):
                todo.append((number, chunk, path, fingerprint))
        if not todo:
            continue
        loaded = items.get([i for _, chunk, _, _ in todo for i, _, _ in chunk])
        for number, chunk, path, fingerprint in todo:
            shown = [loaded[i] for i, _, _ in chunk if i in loaded]
            data = render_section(templates, site, spec, number, count, shown)
            publisher.publish(((path, data),), fingerprint)
    return done


def _w3c(moment: datetime, site: SiteInfo) -> str:
    return local(moment, site.tz).isoformat()


def _publish_sitemaps(
    store: Store,
    site: SiteInfo,
    plan: _Plan,
    specs: Sequence[FeedSpec],
    dates: SectionDates,
    max_urls: int,
    files: _Files,
    publisher: Publisher,
) -> list[list[str]]:
    """`sitemap.xml` and its parts, `sitemap-news.xml` and `robots.txt`; returns the parts
    as (path, group, lastmod), in the index's order."""
    entries = []
    if plan.newest is not None:
        entries.append(SitemapEntry(site.url(""), _w3c(plan.newest, site)))
    for spec in specs:
        for number, lastmod in enumerate(dates.get(spec.folder, ()), start=1):
            if lastmod:
                entries.append(SitemapEntry(section_page_url(site, spec, number), lastmod))
    parts = _publish_parts(SECTIONS_GROUP, entries, site, max_urls, files, publisher)
    dated = dict(plan.kept)
    dated.update((page_path, _w3c(changed_at, site)) for page_path, changed_at in plan.indexed)
    groups: dict[str, list[SitemapEntry]] = {}
    for page_path in sorted(dated):
        entry = SitemapEntry(page_url(site.base_url, page_path), dated[page_path])
        groups.setdefault(group_of(page_path), []).append(entry)
    articles = [
        p
        for p in plan.parts
        if plan.groups is not None and p[1] != SECTIONS_GROUP and p[1] not in plan.groups
    ]
    files.live.update(p[0] for p in articles)
    for group, in_group in groups.items():
        articles += _publish_parts(group, in_group, site, max_urls, files, publisher)
    # Months in order, the numbered parts of one month by number.
    parts += sorted(articles, key=lambda p: (p[1], len(p[0]), p[0]))
    index = [(name, lastmod) for name, _, lastmod in parts]
    index_fp = _digest(PAGES_VERSION, site, index)
    if not files.fresh(SITEMAP, index_fp):
        # An index needs a part: an empty store gets an empty list of pages instead.
        data = render_index(site, index) if index else render_part([])
        publisher.publish(((SITEMAP, data),), index_fp)
    _publish_news(store, site, plan, files, publisher)
    return parts


def _publish_news(
    store: Store,
    site: SiteInfo,
    plan: _Plan,
    files: _Files,
    publisher: Publisher,
) -> None:
    """`sitemap-news.xml` and `robots.txt`."""
    recent = sorted(plan.recent, key=lambda s: (s.published, s.id), reverse=True)
    news_fp = _digest(PAGES_VERSION, site, [_stamp_key(s) for s in recent])
    if not files.fresh(NEWS_SITEMAP, news_fp):
        loaded = store.articles_by_ids(s.id for s in recent)
        news = [
            NewsEntry(
                page_url(site.base_url, s.page_path),
                _w3c(s.published, site),
                title_of(loaded[s.id]),
            )
            for s in recent
            if s.id in loaded
        ]
        publisher.publish(((NEWS_SITEMAP, render_news_sitemap(site, news)),), news_fp)
    robots_fp = _digest(PAGES_VERSION, site)
    if not files.fresh(ROBOTS, robots_fp):
        publisher.publish(((ROBOTS, render_robots(site)),), robots_fp)


def _publish_parts(
    group: str,
    entries: Sequence[SitemapEntry],
    site: SiteInfo,
    max_urls: int,
    files: _Files,
    publisher: Publisher,
) -> list[list[str]]:
    """The part files of one sitemap group; returns them as (path, group, lastmod)."""
    parts = []
    for name, chunk in split_parts(group, entries, max_urls) if entries else ():
        listing = "\n".join(f"{e.loc} {e.lastmod}" for e in chunk)
        fingerprint = _digest(PAGES_VERSION, site, name, listing)
        if not files.fresh(name, fingerprint):
            publisher.publish(((name, render_part(chunk)),), fingerprint)
        parts.append([name, group, max(e.lastmod for e in chunk)])
    return parts
