"""Page builds: `pages_s_per_1000`, `pages_one_new_vs_full` and `one_new_published_s`.

The filled stores give every article a URL of its own (remote-like); here a copy of each
has them cleared, so every article is the newsroom's own and gets a page, and its page
address set as the store mints it (`db.pages.base_path`, unique since every slug is).
Builds run with `fsync=False`, as the feed benchmarks do, so that `pages_one_new_vs_full`
compares like with like; `one_new_published_s` times its own rounds as the daemon runs
them, with `fsync`.
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.build_bench import SITE
from bench.context import Context
from bench.corpus import Corpus
from bench.stores import fill_store, sqlite_url
from bench.timing import Figure, at_most, below, checked_figure, per_thousand_figure, stopwatch
from db.pages import base_path
from db.records import ArticleDraft
from db.store import Store
from feeds.build import build_feeds
from feeds.sitebuild import build_pages

PER_1000_STORE = 5000
PER_1000_ROUNDS = 3
# The warm-up build's store: a tenth of a measured build, with every kind of page (the
# sections' `pagina/<n>/` included).
WARM_UP_STORE = 500
# Rounds of each kind: one without fsync (for the ratio), one with (as the daemon).
ONE_NEW_ROUNDS = 3
ONE_NEW = "pages_one_new"


# The filled stores' newest article opens a month; moved this much later, it closes one,
# so that a new article joins a full month (its sitemap part, its month of page state)
# as one usually does, instead of starting an empty one.
INTO_FULL_MONTH = timedelta(days=30)


def _later(stored: str | None) -> str | None:
    if stored is None:
        return None
    return (datetime.fromisoformat(stored) + INTO_FULL_MONTH).isoformat(" ", "microseconds")


def own_articles_copy(source: Path, target: Path) -> Path:
    """A copy of a filled store whose articles have no URL and have page addresses, dated
    `INTO_FULL_MONTH` later."""
    shutil.copyfile(source, target)
    connection = sqlite3.connect(target)
    try:
        connection.create_function("later", 1, _later, deterministic=True)
        connection.execute(
            "UPDATE articles SET published = later(published), updated = later(updated),"
            " ingested = later(ingested)"
        )
        for links in ("article_tags", "article_authors", "topic_articles"):
            connection.execute(f"UPDATE {links} SET published = later(published)")
        rows = connection.execute("SELECT id, slug, published FROM articles").fetchall()
        connection.executemany(
            "UPDATE articles SET url = NULL, page_path = ? WHERE id = ?",
            [
                (base_path(slug, datetime.fromisoformat(published)), i)
                for i, slug, published in rows
            ],
        )
        connection.commit()
    finally:
        connection.close()
    return target


def _pages_written(report_written: list[str]) -> int:
    return sum(1 for p in report_written if p.endswith("index.html"))


def full_build(store: Store, out: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of a first page build into the empty `out`, and pages written."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    before = time.process_time()
    with stopwatch() as t:
        report = build_pages(store, SITE, out, fsync=False)
    return t[0], time.process_time() - before, _pages_written(report.written)


def _warm_up(ctx: Context, out: Path) -> None:
    """A first page build over `WARM_UP_STORE` articles: imports, templates and every code
    path of a build are loaded before the measured rounds (the measured store's file was
    just written, so its pages are in the page cache already)."""
    path = own_articles_copy(ctx.stores.filled(WARM_UP_STORE), ctx.root / "pages-warm.db")
    store = Store.open(sqlite_url(path), migrate=False)
    try:
        full_build(store, out)
    finally:
        store.close()
        shutil.rmtree(out, ignore_errors=True)


def run_per_1000(
    ctx: Context, articles: int = PER_1000_STORE, rounds: int = PER_1000_ROUNDS
) -> Figure:
    """`pages_s_per_1000`: a full page build (article pages, section pages, sitemaps) over
    `articles` articles in 20 categories, in seconds per 1,000 pages written."""
    _warm_up(ctx, ctx.root / "pages-warm")
    path = own_articles_copy(ctx.stores.filled(articles), ctx.root / f"pages-{articles}.db")
    store = Store.open(sqlite_url(path), migrate=False)
    out = ctx.root / "pages-full"
    seconds, cpu = [], []
    pages = 0
    try:
        for _ in range(rounds):
            wall, used, pages = full_build(store, out)
            seconds.append(wall)
            cpu.append(used)
        categories = len(store.categories())
    finally:
        store.close()
        shutil.rmtree(out, ignore_errors=True)
    return per_thousand_figure(
        "pages_s_per_1000",
        what="pages",
        count=pages,
        seconds=seconds,
        cpu=cpu,
        baseline="none (absolute): issue 15 asks for 200,000 articles in under 5 minutes",
        limit=1.5,
        details={"store_articles": articles, "categories": categories},
    )


def _new_draft(n: int, category: str, published: datetime) -> ArticleDraft:
    return ArticleDraft(
        guid=f"bench-new-{n}",
        title=f"Notizia appena arrivata numero {n}",
        summary="Una notizia nuova in un archivio grande.",
        content_html="<p>Il testo della notizia nuova.</p>",
        content_text="Il testo della notizia nuova.",
        published=published,
        category=category,
    )


def _publish(store: Store, out: Path, *, fsync: bool) -> tuple[float, float, int]:
    """What the daemon's build does after an ingest (`rassegna.operations.build`): the
    feeds, then the pages of the feeds' sections (durably written with `fsync`, as the
    daemon does). Returns the seconds of both and of the pages alone, and the pages
    written."""
    with stopwatch() as t:
        feeds = build_feeds(store, SITE, out, fsync=fsync)
        pages_started = time.perf_counter()
        report = build_pages(store, SITE, out, specs=feeds.feeds, fsync=fsync)
        pages_s = time.perf_counter() - pages_started
    return t[0], pages_s, _pages_written(report.written)


def own_store(empty: Path, count: int, target: Path) -> Path:
    """Fill the empty store `empty` with `count` articles, then make its own-articles copy
    `target` (in whichever process calls it); returns `target`."""
    fill_store(empty, count, Corpus())
    return own_articles_copy(empty, target)


def prepare_one_new(ctx: Context) -> None:
    """Plan the store of `run_one_new` to be made beside the big store's fill
    (`bench.beside`): the same rows as `own_articles_copy` of `ctx.stores.filled`."""
    count = ctx.sizes.pages_store
    empty = ctx.templates.fresh_copy(f"filled-{count}")
    ctx.beside.plan(ONE_NEW, own_store, empty, count, ctx.root / f"pages-one-{count}.db")


def run_one_new(
    ctx: Context, articles: int | None = None, rounds: int = ONE_NEW_ROUNDS
) -> list[Figure]:
    """`pages_one_new_vs_full` and `one_new_published_s`: after a full build of a large
    store (feeds, then pages), one new article is stored and published as the daemon
    does (`_publish`); the pages' share of that over the full page build's time, and the
    seconds of the whole publication."""
    count = articles or ctx.sizes.pages_store
    path = ctx.beside.take(ONE_NEW) if articles is None else None
    if path is None:
        path = own_articles_copy(ctx.stores.filled(count), ctx.root / f"pages-one-{count}.db")
    store = Store.open(sqlite_url(path), migrate=False)
    out = ctx.root / "pages-one"
    published, published_pages, incremental, rewritten = [], [], [], []
    try:
        shutil.rmtree(out, ignore_errors=True)
        specs = build_feeds(store, SITE, out, fsync=False).feeds
        with stopwatch() as t:
            pages = _pages_written(build_pages(store, SITE, out, specs=specs, fsync=False).written)
        full_s = t[0]
        category = store.categories()[0].name
        newest = store.latest_articles(1)[0].published
        for n in range(2 * rounds):
            # The first source of the filled stores.
            store.upsert_articles(1, [_new_draft(n, category, newest + timedelta(minutes=n + 1))])
            durable = n % 2 == 1
            total, pages_s, written = _publish(store, out, fsync=durable)
            if durable:
                published.append(total)
                published_pages.append(pages_s)
            else:
                incremental.append(pages_s)
                rewritten.append(written)
    finally:
        store.close()
        shutil.rmtree(out, ignore_errors=True)
    median = statistics.median(incremental)
    value = median / full_s
    published_s = statistics.median(published)
    details = {
        "store_articles": count,
        "full_build_s": round(full_s, 3),
        "full_pages_written": pages,
        "one_new_s": round(median, 4),
        "rounds_s": [round(x, 4) for x in incremental],
        "pages_rewritten": rewritten,
    }
    return [
        checked_figure(
            "pages_one_new_vs_full",
            value,
            unit="ratio",
            baseline=f"a full page build of the same {count:,} articles",
            target=at_most(0.02),
            digits=4,
            ratio=value,
            details=details,
        ),
        checked_figure(
            "one_new_published_s",
            published_s,
            unit="s",
            baseline="none (absolute): issue 15 asks for one new article published in under 1 s",
            target=below(1),
            digits=4,
            details={
                "store_articles": count,
                "rounds_s": [round(x, 4) for x in published],
                "feeds_s": round(published_s - statistics.median(published_pages), 4),
                "fsync": True,
            },
        ),
    ]
