"""Feed ingest: `feed_ingest_vs_feedparser` and `big_feed_peak_mb`.

A feed source whose location is a file on disk goes through the same parse → normalize →
store path as a fetched one (`ingest.remote.ingest_remote_source`), without the network.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import feedparser

from bench import floor
from bench.context import Context
from bench.corpus import rss_document
from bench.stores import remove_db, sqlite_url
from bench.timing import Figure, at_most, checked_figure, interleaved, ratio_figure, stopwatch
from db.records import SourceSpec
from db.store import Store
from ingest.collect import Drafting, collect_feed
from ingest.fetch import Fetcher, FetchPolicy, Response
from ingest.remote import RemoteOptions, ingest_remote_source

NOW = datetime(2024, 6, 2, 12, 0, tzinfo=UTC)
SOURCE = "Feed di prova"
PLAIN = RemoteOptions()  # no rules, no workers, the default time zone


def ingest_feed_file(db: Path, feed: Path, options: RemoteOptions = PLAIN) -> tuple[float, int]:
    """Seconds of one ingest of the feed file into the store at `db` (source `SOURCE`),
    and articles stored."""
    store = Store.open(sqlite_url(db), migrate=False)
    spec = SourceSpec(name=SOURCE, kind="feed", location=str(feed), category="Cronaca")
    try:
        with Fetcher(FetchPolicy(user_agent="rassegna-bench")) as fetcher, stopwatch() as t:
            report = ingest_remote_source(store, spec, fetcher, options=options, now=NOW)
    finally:
        store.close()
    if report.error or report.problems:
        raise RuntimeError(f"bench feed ingest failed: {report.error} {report.problems[:3]}")
    return t[0], report.new


def timed_ingest(ctx: Context, feed: Path, expected: int, options: RemoteOptions = PLAIN) -> float:
    """Seconds of one ingest of `feed` into a fresh empty store (removed afterwards), which
    must store `expected` articles."""
    db = ctx.templates.fresh_copy("feed")
    try:
        seconds, new = ingest_feed_file(db, feed, options)
    finally:
        remove_db(db)
    if new != expected:
        raise RuntimeError(f"the feed ingest stored {new} articles, expected {expected}")
    return seconds


def run(ctx: Context) -> list[Figure]:
    count = ctx.sizes.feed_items
    data = rss_document(ctx.corpus, count)
    feed = ctx.root / "feed-1000.xml"
    feed.write_bytes(data)

    def subject() -> float:
        return timed_ingest(ctx, feed, count, RemoteOptions(pool=ctx.pool))

    def baseline() -> float:
        with stopwatch() as t:
            parsed = feedparser.parse(data)
        if len(parsed.entries) != count:
            raise RuntimeError(f"feedparser read {len(parsed.entries)} entries, not {count}")
        return t[0]

    def collect_only() -> float:
        with stopwatch() as t:
            collect_feed(Response.bare(feed.as_uri(), data), Drafting(NOW))
        return t[0]

    floors: list[floor.Parts] = []

    def floor_once() -> float:
        with stopwatch():  # for its GC setting; the parts are timed inside
            floors.append(floor.feed_floor(data))
        return sum(floors[-1].values())

    subject()  # warm-up (imports, page cache)
    rounds = interleaved([subject, baseline, collect_only, floor_once], ctx.sizes.feed_rounds)
    return [
        ratio_figure(
            "feed_ingest_vs_feedparser",
            rounds,
            baseline="feedparser.parse of the same bytes (in memory)",
            target=at_most(1.46),
            details={
                "items": count,
                "feed_bytes": len(data),
                "parse_normalize_only_s": round(rounds.median(2), 4),
                "parse_normalize_only_vs_feedparser": round(rounds.median(2) / rounds.median(1), 2),
                "floor": floor.summary(floors, rounds.median(1), 1.5, plus_baseline=False),
            },
        )
    ]


_CHILD = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_kib(command: list[str]) -> int:
    """Peak resident set (KiB) of `command`, run as the only child of a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *command], check=True, capture_output=True, text=True
    )
    return int(done.stdout.strip().splitlines()[-1])


def run_peak(ctx: Context) -> list[Figure]:
    """`big_feed_peak_mb`: peak RSS of a process ingesting one 10 MB feed / the file size."""
    data = rss_document(ctx.corpus, min_bytes=ctx.sizes.big_feed_bytes)
    feed = ctx.root / "feed-big.xml"
    feed.write_bytes(data)
    db = ctx.templates.fresh_copy("bigfeed")
    with stopwatch() as t:
        peak = _peak_kib([sys.executable, "-m", "bench.feed_bench", str(db), str(feed)])
    elapsed = t[0]
    idle = _peak_kib([sys.executable, "-m", "bench.feed_bench", "--imports-only"])
    remove_db(db)
    peak_mb = peak / 1024
    size_mb = len(data) / (1024 * 1024)
    value = peak_mb / size_mb
    return [
        checked_figure(
            "big_feed_peak_mb",
            value,
            unit="peak RSS MB per feed MB",
            baseline=f"the feed file's size ({size_mb:.1f} MB)",
            target=at_most(15),
            digits=2,
            ratio=value,
            details={
                "peak_rss_mb": round(peak_mb, 1),
                "feed_mb": round(size_mb, 2),
                "items": data.count(b"<item>"),
                "same_process_after_imports_only_mb": round(idle / 1024, 1),
                "ingest_s": round(elapsed, 2),
            },
        )
    ]


def _main(argv: list[str]) -> None:
    """Child process of `big_feed_peak_mb`: ingest one feed file and print what it did."""
    if argv == ["--imports-only"]:
        print(json.dumps({"imports": True}))
        return
    db, feed = Path(argv[0]), Path(argv[1])
    seconds, new = ingest_feed_file(db, feed)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "new": new, "maxrss_kib": peak}))


if __name__ == "__main__":
    _main(sys.argv[1:])
