"""Build the site's pages beside the feeds: article pages, section pages, sitemaps, robots.

Published like the feeds (`feeds.build`): atomic writes, bytes rewritten only when they
change, gzip twins, and a state file (`.rassegna-pages.json`) holding each page's
fingerprint, so a page whose inputs did not change is neither loaded nor rendered.

- An article page (`articoli/<yyyy>/<mm>/<slug>/index.html`, the address the store minted
  once, `db.pages`) depends on the article's version, on the previous and next article
  of its chain (its category, else its source, in publication order), on which of its
  tags, authors and topics have section pages, and on the templates.
- A section page (`<kind>/<slug>/index.html`, then `pagina/2/`...) depends on the
  articles it lists; it lists `section_page_size` of them, at most `section_pages` deep.
- `sitemap.xml`, `sitemap-news.xml` and `robots.txt` are rebuilt when what they list does.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from db.pages import PageLabels, PageStamp
from db.records import StoredArticle
from db.stamps import Stamp
from db.store import Store
from feeds.build import BuildReport, BuildState, Publisher, remove_stale
from feeds.common import is_web_url, local, page_url, title_of
from feeds.pages import (
    INDEX,
    Sections,
    Templates,
    has_page,
    render_article,
    render_section,
    section_page_path,
    section_page_url,
)
from feeds.sections import KIND_AUTHOR, KIND_ROOT, KIND_TAG, FeedSpec, plan_feeds
from feeds.site import SiteInfo
from feeds.sitemaps import (
    MAX_URLS,
    NEWS_SITEMAP,
    ROBOTS,
    SITEMAP,
    NewsEntry,
    SitemapEntry,
    news_cutoff,
    part_name,
    render_news_sitemap,
    render_robots,
    render_sitemaps,
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
    stamp: PageStamp
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


def _chains(stamps: Sequence[PageStamp]) -> Iterator[_Place]:
    """Every article's `_Place`; `stamps` are oldest first. Each key is made once: this runs
    over the whole store at every build."""
    chains: dict[tuple[str, int], list[PageStamp]] = {}
    for stamp in stamps:
        key = ("c", stamp.category_id) if stamp.category_id is not None else ("s", stamp.source_id)
        chains.setdefault(key, []).append(stamp)
    for chain in chains.values():
        keys = ["-", *(_stamp_key(s) for s in chain), "-"]
        ids: list[int | None] = [None, *(s.id for s in chain), None]
        for index, stamp in enumerate(chain):
            yield _Place(
                stamp, keys[index + 1], ids[index], keys[index], ids[index + 2], keys[index + 2]
            )


def _plan_articles(
    site: SiteInfo,
    base: str,
    stamps: Sequence[PageStamp],
    labels: PageLabels,
    sections: Sections,
) -> list[_ArticlePage]:
    linked_tags = sections.linked_keys(KIND_TAG)
    linked_authors = sections.linked_keys(KIND_AUTHOR)
    pages = []
    for place in _chains(stamps):
        stamp = place.stamp
        if not has_page(stamp, site):
            continue
        tags = ",".join(t for t in labels.tags.get(stamp.id, ()) if t in linked_tags)
        authors = ",".join(a for a in labels.authors.get(stamp.id, ()) if a in linked_authors)
        topics = labels.topics.get(stamp.id, ())
        # One cheap hash of one string: this runs for every article at every build.
        text = "\x00".join(
            (
                base,
                place.key,
                stamp.page_path,
                place.previous_key,
                place.following_key,
                tags,
                authors,
                ",".join(topics),
            )
        )
        fingerprint = hashlib.blake2b(text.encode(), digest_size=20).hexdigest()
        path = f"{stamp.page_path}/{INDEX}"
        pages.append(
            _ArticlePage(stamp, place.previous, place.following, topics, path, fingerprint)
        )
    return pages


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
    sitemap's window (default: the clock); past `sitemap_urls` URLs `sitemap.xml` becomes
    an index of parts. Raises FeedError when a file cannot be written."""
    when = now or datetime.now(UTC)
    state = BuildState(out_dir, PAGES_STATE, PAGES_VERSION)
    report = BuildReport()
    live: set[str] = set()
    specs = list(specs) if specs is not None else plan_feeds(store, site)
    sections = Sections(site, specs)
    templates = Templates(site)
    base = _digest(PAGES_VERSION, templates.fingerprint, site)

    stamps, labels = store.page_stamps()
    planned = _plan_articles(site, base, stamps, labels, sections)
    by_id = {s.id: s for s in stamps}
    with Publisher(out_dir, state, report, fsync=fsync) as publisher:
        stale = []
        for page in planned:
            live.add(page.path)
            if state.fresh_with_gzip(page.path, page.fingerprint):
                report.unchanged.append(page.path)
            else:
                stale.append(page)
        for start in range(0, len(stale), _BATCH):
            _render_articles(
                store, site, templates, sections, stale[start : start + _BATCH], publisher
            )

        section_stamps = _publish_sections(
            store, site, templates, sections, specs, base, state, publisher, live, report
        )
        _publish_sitemaps(
            store,
            site,
            stamps,
            by_id,
            section_stamps,
            when,
            sitemap_urls,
            state,
            publisher,
            live,
            report,
        )
        publisher.finish()
    report.removed = remove_stale(out_dir, state, live)
    state.save(fsync=fsync)
    return report


def _render_articles(
    store: Store,
    site: SiteInfo,
    templates: Templates,
    sections: Sections,
    batch: Sequence[_ArticlePage],
    publisher: Publisher,
) -> None:
    wanted = []
    for page in batch:
        wanted.append(page.stamp.id)
        wanted += [i for i in (page.previous, page.following) if i is not None]
    loaded = store.articles_by_ids(wanted)
    for page in batch:
        article = loaded.get(page.stamp.id)
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


class _ArticleCache:
    """Articles loaded for section pages, kept across sections (an article is listed in
    its category, source and tag sections), at most `LIMIT`, the oldest loaded going first."""

    LIMIT = 5000

    def __init__(self) -> None:
        self._kept: dict[int, StoredArticle] = {}

    def get(self, store: Store, ids: Sequence[int]) -> dict[int, StoredArticle]:
        missing = [i for i in dict.fromkeys(ids) if i not in self._kept]
        if missing:
            self._kept.update(store.articles_by_ids(missing))
            while len(self._kept) > self.LIMIT:
                del self._kept[next(iter(self._kept))]
        return {i: self._kept[i] for i in ids if i in self._kept}


def _publish_sections(
    store: Store,
    site: SiteInfo,
    templates: Templates,
    sections: Sections,
    specs: Sequence[FeedSpec],
    base: str,
    state: BuildState,
    publisher: Publisher,
    live: set[str],
    report: BuildReport,
) -> list[tuple[FeedSpec, list[tuple[int, list[Stamp]]]]]:
    """Every section's pages; returns each section's pages as (number, stamps)."""
    size, depth = site.section_page_size, site.section_pages
    listed: list[tuple[FeedSpec, list[tuple[int, list[Stamp]]]]] = []
    cache = _ArticleCache()
    with store.stamp_reader() as reader:
        all_stamps = {
            spec.folder: reader.latest(size * depth, spec.section)
            for spec in specs
            if spec.kind != KIND_ROOT
        }
    for spec in specs:
        if spec.kind == KIND_ROOT:
            continue
        stamps = all_stamps[spec.folder]
        count = max(1, -(-len(stamps) // size))
        pages = [(n, stamps[(n - 1) * size : n * size]) for n in range(1, count + 1)]
        listed.append((spec, pages))
        todo = []
        for number, chunk in pages:
            path = section_page_path(spec, number)
            live.add(path)
            fingerprint = _digest(base, spec, number, count, chunk)
            if state.fresh_with_gzip(path, fingerprint):
                report.unchanged.append(path)
            else:
                todo.append((number, chunk, path, fingerprint))
        if not todo:
            continue
        loaded = cache.get(store, [i for _, chunk, _, _ in todo for i, _, _ in chunk])
        for number, chunk, path, fingerprint in todo:
            articles = [loaded[i] for i, _, _ in chunk if i in loaded]
            data = render_section(templates, site, sections, spec, number, count, articles)
            publisher.publish(((path, data),), fingerprint)
    return listed


def _w3c(moment: datetime, site: SiteInfo) -> str:
    return local(moment, site.tz).isoformat()


def _publish_sitemaps(
    store: Store,
    site: SiteInfo,
    stamps: Sequence[PageStamp],
    by_id: dict[int, PageStamp],
    section_stamps: Sequence[tuple[FeedSpec, list[tuple[int, list[Stamp]]]]],
    now: datetime,
    max_urls: int,
    state: BuildState,
    publisher: Publisher,
    live: set[str],
    report: BuildReport,
) -> None:
    """`sitemap.xml` (and its parts), `sitemap-news.xml` and `robots.txt`."""
    # Excerpt pages of remote articles are `noindex`: never in a sitemap.
    indexed = [s for s in stamps if has_page(s, site) and not is_web_url(s.url)]
    newest = max((max(s.updated, s.published) for s in stamps), default=None)
    entries = []
    if newest is not None:
        entries.append(SitemapEntry(site.url(""), _w3c(newest, site)))
    for spec, pages in section_stamps:
        for number, chunk in pages:
            dates = [max(by_id[i].updated, by_id[i].published) for i, _, _ in chunk if i in by_id]
            if dates:
                entries.append(
                    SitemapEntry(section_page_url(site, spec, number), _w3c(max(dates), site))
                )
    for stamp in sorted(indexed, key=lambda s: s.page_path):
        entries.append(
            SitemapEntry(
                page_url(site.base_url, stamp.page_path),
                _w3c(max(stamp.updated, stamp.published), site),
            )
        )
    listing = "\n".join(f"{e.loc} {e.lastmod}" for e in entries)
    fingerprint = _digest(PAGES_VERSION, site, max_urls, listing)
    parts = -(-len(entries) // max_urls)
    paths = [SITEMAP] + ([part_name(n) for n in range(1, parts + 1)] if parts > 1 else [])
    _publish_set(
        paths,
        lambda: render_sitemaps(site, entries, max_urls),
        fingerprint,
        state,
        publisher,
        live,
        report,
    )

    cutoff = news_cutoff(now)
    recent = sorted(
        (s for s in indexed if s.published >= cutoff),
        key=lambda s: (s.published, s.id),
        reverse=True,
    )
    news_fp = _digest(PAGES_VERSION, site, [_stamp_key(s) for s in recent])
    live.add(NEWS_SITEMAP)
    if state.fresh_with_gzip(NEWS_SITEMAP, news_fp):
        report.unchanged.append(NEWS_SITEMAP)
    else:
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
    robots = [(ROBOTS, render_robots(site))]
    _publish_set(
        [ROBOTS], lambda: robots, _digest(PAGES_VERSION, site), state, publisher, live, report
    )


def _publish_set(
    paths: Sequence[str],
    render: Callable[[], Sequence[tuple[str, bytes]]],
    fingerprint: str,
    state: BuildState,
    publisher: Publisher,
    live: set[str],
    report: BuildReport,
) -> None:
    """Publish `paths`, rendered together, unless they are all as built from `fingerprint`
    (then nothing is rendered)."""
    live.update(paths)
    if all(state.fresh_with_gzip(path, fingerprint) for path in paths):
        report.unchanged.extend(paths)
        return
    outputs = render()
    assert [path for path, _ in outputs] == list(paths)
    publisher.publish(outputs, fingerprint)
