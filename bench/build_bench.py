"""Feed builds: `build_vs_feedgen`, `build_nochange_vs_full`, `build_s_per_1000_items` and
`build_growth`.

Builds run with `fsync=False` (the option `feeds.build.build_feeds` offers to tests and
benchmarks): the figures measure rendering and the store, not the disk's flush latency.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from feedgen.feed import FeedGenerator

from bench.context import Context
from bench.stores import sqlite_url
from bench.timing import (
    Figure,
    at_most,
    interleaved,
    per_thousand_figure,
    ratio_figure,
    stopwatch,
)
from db.records import StoredArticle
from db.store import Store
from feeds.build import BuildReport, build_caches, build_feeds
from feeds.jsonfeed import render_json
from feeds.publish import GZIP_SUFFIX, publish_file
from feeds.render import render_xml
from feeds.sections import FeedSpec, plan_feeds
from feeds.site import SiteInfo

SITE = SiteInfo(
    title="Rassegna di prova",
    link="https://rassegna.example.it/",
    base_url="https://rassegna.example.it/feed/",
    description="Le notizie sintetiche dei benchmark",
    items_per_feed=50,
)
# The writer threads of `feeds.build.Publisher`.
PUBLISH_THREADS = 2


class _Outputs:
    """Fresh output folders for full builds (the previous one is removed, untimed)."""

    def __init__(self, root: Path, prefix: str) -> None:
        self.root = root
        self.prefix = prefix
        self.count = 0
        self.last: Path | None = None

    def fresh(self) -> Path:
        if self.last is not None:
            shutil.rmtree(self.last, ignore_errors=True)
        self.count += 1
        self.last = self.root / f"{self.prefix}-{self.count}"
        return self.last


def _full_build(store: Store, outputs: _Outputs) -> float:
    out = outputs.fresh()
    with stopwatch() as t:
        report = build_feeds(store, SITE, out, fsync=False)
    if not report.written:
        raise RuntimeError("a full build wrote nothing")
    return t[0]


def _feedgen_documents(spec: FeedSpec, articles: Sequence[StoredArticle]) -> list[bytes]:
    """feedgen's RSS and Atom of one feed, and its JSON Feed with the standard library's
    `json` (feedgen has no JSON Feed writer), each entry built anew for every feed."""
    fg = FeedGenerator()
    fg.id(SITE.url(spec.atom_path))
    fg.title(spec.title)
    fg.description(spec.description)
    fg.language(SITE.language)
    fg.author({"name": SITE.title})
    fg.link(href=SITE.link, rel="alternate")
    fg.link(href=SITE.url(spec.rss_path), rel="self")
    if articles:
        fg.updated(max(a.updated for a in articles))
    items: list[dict[str, object]] = []
    for article in articles:
        entry = fg.add_entry(order="append")
        entry.id(article.uid)
        entry.title(article.title)
        entry.link(href=article.url or SITE.link)
        entry.updated(article.updated)
        entry.published(article.published)
        entry.summary(article.summary)
        entry.content(article.content_html, type="html")
        authors = [{"name": a} for a in article.authors] or [{"name": SITE.title}]
        entry.author(authors)
        categories = [{"term": t.slug, "label": t.name} for t in article.tags]
        if article.category is not None:
            categories.insert(0, {"term": article.category.slug, "label": article.category.name})
        if categories:
            entry.category(categories)
        items.append(
            {
                "id": article.uid,
                "url": article.url or SITE.link,
                "title": article.title,
                "summary": article.summary,
                "content_html": article.content_html,
                "date_published": article.published.isoformat(),
                "date_modified": article.updated.isoformat(),
                "authors": authors,
                "tags": [c["label"] for c in categories],
            }
        )
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": SITE.link,
        "feed_url": SITE.url(spec.json_path),
        "description": spec.description,
        "language": SITE.language,
        "items": items,
    }
    return [
        fg.rss_str(pretty=True),
        fg.atom_str(pretty=True),
        json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(),
    ]


def _feedgen_render(items: Sequence[tuple[FeedSpec, list[StoredArticle]]]) -> float:
    """feedgen rendering RSS and Atom (and `json` the JSON Feed) of every feed, from
    articles already in memory, nothing written."""
    with stopwatch() as t:
        for spec, articles in items:
            _feedgen_documents(spec, articles)
    return t[0]


def _our_render(items: Sequence[tuple[FeedSpec, list[StoredArticle]]]) -> float:
    """Our renderers on the same feeds and articles, as a build calls them (the build's
    entry and item caches and their text handover), nothing written."""
    with stopwatch() as t:
        entries, json_items = build_caches(SITE)
        for spec, articles in items:
            render_xml(SITE, spec, articles, entries)
            render_json(SITE, spec, articles, json_items)
    return t[0]


def _feedgen_published(
    items: Sequence[tuple[FeedSpec, list[StoredArticle]]],
    others: Sequence[tuple[str, bytes]],
    outputs: _Outputs,
) -> float:
    """The fair baseline of a full build: feedgen renders the same feeds, and every file
    (the feeds, plus the build's own index, OPML and stylesheet bytes, which have no
    feedgen counterpart) is written by `publish_file` (temp file, rename, gzip twin) on as
    many threads as the build's publisher uses."""
    out = outputs.fresh()
    with stopwatch() as t, ThreadPoolExecutor(max_workers=PUBLISH_THREADS) as pool:
        futures = []
        for spec, articles in items:
            paths = (spec.rss_path, spec.atom_path, spec.json_path)
            for relative, data in zip(paths, _feedgen_documents(spec, articles), strict=True):
                futures.append(pool.submit(publish_file, out, relative, data, fsync=False))
        for relative, data in others:
            futures.append(pool.submit(publish_file, out, relative, data, fsync=False))
        for future in futures:
            future.result()
    return t[0]


PER_ITEM_STORE = 5000
"""Issue #5: "a build of all feeds for 5,000 articles across 20 categories takes well under
a second of rendering per 1,000 items written"."""
PER_ITEM_ROUNDS = 3


def _items_written(out: Path, report: BuildReport) -> int:
    """Items in the feed documents a build wrote, counted once per document (its RSS,
    Atom and JSON Feed versions together count as one)."""
    return sum(
        (out / relative).read_bytes().count(b"<item>")
        for relative in report.written
        if relative.endswith("rss.xml")
    )


def run_per_item(ctx: Context) -> Figure:
    """`build_s_per_1000_items`: the first build of every feed and all its archive pages
    (`output.archive`, pages of 50), over 5,000 articles in 20 categories, in seconds per
    1,000 items written. Absolute: there is no baseline doing the same work."""
    path = ctx.stores.filled(PER_ITEM_STORE)
    store = Store.open(sqlite_url(path), migrate=False)
    site = replace(SITE, archive_page_size=50)
    outputs = _Outputs(ctx.root, "build-per-item")
    counted: list[tuple[int, int]] = []
    categories = len(store.categories())

    def first_build(out: Path, max_archive_pages: int = 100_000) -> BuildReport:
        # Every archive page in this one build (a first build over this history spreads
        # them over a few builds with the default cap of 200 pages).
        return build_feeds(store, site, out, fsync=False, max_archive_pages=max_archive_pages)

    seconds: list[float] = []
    cpu: list[float] = []
    try:
        # Warm-up: the store's pages and every code path of an archive build, with one
        # archive page (the store was just filled and `run` built feeds before, so a whole
        # build here would warm nothing more).
        first_build(outputs.fresh(), max_archive_pages=1)
        for _ in range(PER_ITEM_ROUNDS):
            out = outputs.fresh()  # untimed: removing the previous output
            # CPU time too (all threads of the process): on a loaded machine the wall
            # time says more about the neighbours than about the build.
            before = time.process_time()
            with stopwatch() as t:
                report = first_build(out)
            cpu.append(time.process_time() - before)
            seconds.append(t[0])
            if report.archive_pages_pending:
                raise RuntimeError("archive pages left for a later build")
            counted.append((_items_written(out, report), len(report.written)))
    finally:
        store.close()
        if outputs.last is not None:
            shutil.rmtree(outputs.last, ignore_errors=True)
    items, files = counted[-1]
    return per_thousand_figure(
        "build_s_per_1000_items",
        what="items",
        count=items,
        seconds=seconds,
        cpu=cpu,
        baseline="none (absolute): issue #5 asks for well under 1 s",
        limit=1.0,
        details={
            "store_articles": PER_ITEM_STORE,
            "categories": categories,
            "files_written": files,
        },
    )


def _outputs_of(out: Path, report: BuildReport) -> list[tuple[str, bytes]]:
    """The files a build wrote (gzip twins aside) and their bytes."""
    return [
        (relative, (out / relative).read_bytes())
        for relative in report.written
        if not relative.endswith(GZIP_SUFFIX)
    ]


def _publish_only(files: Sequence[tuple[str, bytes]], outputs: _Outputs) -> float:
    """Publishing the bytes of a full build into an empty folder, with nothing rendered:
    the same `publish_file` calls (gzip twins included), one after the other."""
    out = outputs.fresh()
    with stopwatch() as t:
        for relative, data in files:
            publish_file(out, relative, data, fsync=False)
    return t[0]


def _feed_counts(report: BuildReport) -> dict[str, int]:
    counts: dict[str, int] = {}
    for spec in report.feeds:
        counts[spec.kind] = counts.get(spec.kind, 0) + 1
    return counts


def run(ctx: Context) -> list[Figure]:
    """`build_vs_feedgen` and `build_nochange_vs_full` on the small store, then
    `build_s_per_1000_items`."""
    small = ctx.stores.filled(ctx.sizes.small_store)
    store = Store.open(sqlite_url(small), migrate=False)
    try:
        specs = plan_feeds(store, SITE)
        items = [(spec, store.latest_articles(SITE.items_per_feed, spec.section)) for spec in specs]
        full = _Outputs(ctx.root, "build-full")
        steady = ctx.root / "build-steady"
        first = build_feeds(store, SITE, steady, fsync=False)  # also warms caches and imports
        files = _outputs_of(steady, first)
        feed_paths = {path for spec, _ in items for path in spec.paths}
        others = [(relative, data) for relative, data in files if relative not in feed_paths]
        written_only = _Outputs(ctx.root, "build-files-only")
        fair = _Outputs(ctx.root, "build-feedgen")
        _feedgen_published(items, others, fair)
        _our_render(items)

        def nochange() -> float:
            with stopwatch() as t:
                report = build_feeds(store, SITE, steady, fsync=False)
            if report.written:
                raise RuntimeError(f"a no-change build rewrote {report.written[:3]}")
            return t[0]

        rounds = interleaved(
            [
                lambda: _full_build(store, full),
                lambda: _feedgen_published(items, others, fair),
                nochange,
                lambda: _publish_only(files, written_only),
                lambda: _our_render(items),
                lambda: _feedgen_render(items),
            ],
            ctx.sizes.build_rounds,
        )
        shutil.rmtree(steady, ignore_errors=True)
        for outputs in (full, written_only, fair):
            if outputs.last is not None:
                shutil.rmtree(outputs.last, ignore_errors=True)
    finally:
        store.close()
    feeds = _feed_counts(first)
    details = {
        "store_articles": ctx.sizes.small_store,
        "items_per_feed": SITE.items_per_feed,
        "feeds": feeds,
        "files_written": len(first.written),
        "bytes_written_excluding_gzip": sum(len(data) for _, data in files),
        # The build's own files written with nothing rendered, one after the other: what
        # the file system costs this machine.
        "files_only_s": round(rounds.median(3), 4),
        "files_only_vs_feedgen": round(rounds.median(3) / rounds.median(1), 2),
        "render_only_s": round(rounds.median(4), 4),
        "feedgen_render_only_s": round(rounds.median(5), 4),
    }
    return [
        ratio_figure(
            "build_vs_feedgen",
            rounds,
            baseline=(
                "feedgen rendering RSS + Atom (and json the JSON Feed) of the same feeds and "
                "items from StoredArticle objects in memory, every file (plus the build's own "
                "index, OPML and stylesheet bytes) written by publish_file with its gzip twin "
                f"on {PUBLISH_THREADS} threads; no database reads"
            ),
            target=at_most(1.2),
            details=details,
        ),
        ratio_figure(
            "render_vs_feedgen",
            rounds,
            baseline=(
                "feedgen rendering RSS + Atom (and json the JSON Feed) of the same feeds and "
                "items, nothing written; ours: render_xml + render_json with one build's caches"
            ),
            target=at_most(1.3),
            subject=4,
            base=5,
            details=details,
        ),
        ratio_figure(
            "build_nochange_vs_full",
            rounds,
            baseline="a full build into an empty folder (same rounds)",
            target=at_most(0.05),
            subject=2,
            base=0,
            details=details,
        ),
        run_per_item(ctx),
    ]


def run_growth(ctx: Context) -> list[Figure]:
    """`build_growth`: a full build with the big store / with the small store."""
    small_path = ctx.stores.filled(ctx.sizes.small_store)
    big_path = ctx.stores.filled(ctx.sizes.big_store)
    small = Store.open(sqlite_url(small_path), migrate=False)
    big = Store.open(sqlite_url(big_path), migrate=False)
    try:
        small_out = _Outputs(ctx.root, "growth-small")
        big_out = _Outputs(ctx.root, "growth-big")
        _full_build(big, big_out)  # warm: page cache of the big file
        rounds = interleaved(
            [lambda: _full_build(big, big_out), lambda: _full_build(small, small_out)],
            ctx.sizes.growth_build_rounds,
        )
        for outputs in (small_out, big_out):
            if outputs.last is not None:
                shutil.rmtree(outputs.last, ignore_errors=True)
    finally:
        small.close()
        big.close()
    return [
        ratio_figure(
            "build_growth",
            rounds,
            baseline=f"the same full build with {ctx.sizes.small_store} stored articles",
            target=at_most(1.2),
            details={
                "store_articles": ctx.sizes.big_store,
                "fill_seconds": dict(ctx.stores.fill_seconds),
            },
        )
    ]
