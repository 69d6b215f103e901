"""`status_page_ms`: the `/stato` page of 1,000 sources over 1,000,000 stored articles.

The store is filled with bulk Core inserts (no pipeline): 1,000 feed sources, each with
some fetch state; articles spread over the sources and the last year; and the activity
counters a year of polling leaves (30 day rows and 168 hour rows per source, all that the
page reads). The figure is the median time of rendering the whole page (what a request
costs, without HTTP) after `FETCHED_PER_ROUND` sources were fetched since the previous
request (recorded through the store, as the daemon does: their rows and counters change,
so the page draws their rows again), with `SELECT count(*) FROM articles` timed in the
same rounds as the baseline: the page must cost far less than one scan of the articles.
`cold_ms` in the details is the first request of a fresh page (daemon start, or the turn
of an hour, when every row is drawn again).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.context import Context
from bench.timing import Figure, interleaved, timed
from db.counters import DAY, HOUR, TOTAL, day_of, hour_of
from db.records import FetchKind, FetchOutcome
from db.store import Store
from db.tables import ARTICLES, BUILDS, COUNTER_TOTALS, COUNTERS, SOURCES
from rassegna.config import load_settings
from rassegna.status import StatusPage

SOURCE_COUNT = 1000
ARTICLE_COUNT = int(os.environ.get("BENCH_STATUS_ARTICLES", "1000000"))
BATCH = 20_000
ROUNDS = 7
FETCHED_PER_ROUND = 50
"""A minute of polling 1,000 sources every 10 to 20 minutes."""
TARGET_MS = 200.0


def _config(folder: Path, db: Path) -> Path:
    lines = [
        '[site]\ntitle = "Banco"\nbase_url = "http://127.0.0.1:8080/"\n',
        f'[database]\nurl = "sqlite:///{db}"\n',
        f'[output]\ndir = "{folder / "public"}"\n',
    ]
    for i in range(SOURCE_COUNT):
        lines.append(
            f'[[sources]]\nname = "Fonte {i:04d}"\nkind = "feed"\n'
            f'url = "https://fonte{i}.example.it/feed.xml"\n'
        )
    path = folder / "rassegna.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def fill(store: Store, now: datetime) -> None:
    """Sources, articles, counters and builds, in bulk."""
    with store.engine.begin() as connection:
        connection.execute(
            insert(SOURCES),
            [
                {
                    "id": i + 1,
                    "name": f"Fonte {i:04d}",
                    "slug": f"fonte-{i:04d}",
                    "kind": "feed",
                    "location": f"https://fonte{i}.example.it/feed.xml",
                    "interval_seconds": 600,
                    "created_at": now - timedelta(days=365),
                    "last_fetch": now - timedelta(minutes=i % 10),
                    "last_success": now - timedelta(minutes=i % 10 if i % 17 else 600),
                    "last_error": "HTTP 503 Service Unavailable" if i % 17 == 0 else None,
                    "consecutive_errors": 3 if i % 17 == 0 else 0,
                    "next_due": now + timedelta(minutes=10 - i % 10),
                    "url_history": [],
                    "redirect_streak": 0,
                    "gone": i % 97 == 0,
                    "interval_used": 600,
                    "interval_reason": "configured",
                }
                for i in range(SOURCE_COUNT)
            ],
        )
    step = timedelta(days=365) / ARTICLE_COUNT
    for start in range(0, ARTICLE_COUNT, BATCH):
        rows = []
        for i in range(start, min(start + BATCH, ARTICLE_COUNT)):
            when = now - step * i
            rows.append(
                {
                    "id": i + 1,
                    "uid": f"urn:uuid:{i:032x}",
                    "source_id": i % SOURCE_COUNT + 1,
                    "guid": f"g{i}",
                    "title": f"Articolo numero {i}",
                    "summary": "",
                    "content_html": "",
                    "content_text": "",
                    "authors": [],
                    "published": when,
                    "updated": when,
                    "ingested": when,
                    "content_hash": f"{i:064x}",
                    "slug": f"articolo-{i}",
                }
            )
        with store.engine.begin() as connection:
            connection.execute(insert(ARTICLES), rows)
    today, this_hour = day_of(now), hour_of(now)
    counters: list[dict[str, Any]] = []
    for source in range(1, SOURCE_COUNT + 1):
        held = ARTICLE_COUNT // SOURCE_COUNT + (source <= ARTICLE_COUNT % SOURCE_COUNT)
        counters.append(
            {
                "source_id": source,
                "span": TOTAL,
                "bucket": 0,
                "stored": held,
                "fetch_new": 0,
                "fetch_same": 0,
                "fetch_error": 0,
            }
        )
        for d in range(30):
            counters.append(
                {
                    "source_id": source,
                    "span": DAY,
                    "bucket": today - d,
                    "stored": (source + d) % 7,
                    "fetch_new": 20,
                    "fetch_same": 120,
                    "fetch_error": d % 3,
                }
            )
        for h in range(168):
            counters.append(
                {
                    "source_id": source,
                    "span": HOUR,
                    "bucket": this_hour - h,
                    "stored": (source + h) % 3,
                    "fetch_new": 1,
                    "fetch_same": 5,
                    "fetch_error": h % 5 == 0,
                }
            )
    with store.engine.begin() as connection:
        for start in range(0, len(counters), BATCH):
            connection.execute(insert(COUNTERS), counters[start : start + BATCH])
        totals: dict[tuple[str, int], int] = {}
        for row in counters:
            if row["span"] == TOTAL:
                continue
            key = (str(row["span"]), int(row["bucket"]))
            totals[key] = totals.get(key, 0) + int(row["stored"])
        connection.execute(
            insert(COUNTER_TOTALS),
            [{"span": span, "bucket": bucket, "stored": n} for (span, bucket), n in totals.items()],
        )
        connection.execute(
            insert(BUILDS),
            [
                {
                    "started": now - timedelta(minutes=10 * b),
                    "seconds": 1.5,
                    "written": 30,
                    "unchanged": 4000,
                    "removed": 0,
                    "feeds": 1200,
                }
                for b in range(20)
            ],
        )
        connection.exec_driver_sql("ANALYZE")


def _fetch_some(store: Store, round_no: int) -> None:
    """Record `FETCHED_PER_ROUND` fetches (new content or 304) of other sources each round."""
    for k in range(FETCHED_PER_ROUND):
        source = (round_no * FETCHED_PER_ROUND + k) % SOURCE_COUNT + 1
        kind = FetchKind.OK if k % 4 == 0 else FetchKind.NOT_MODIFIED
        store.record_fetch_outcome(source, FetchOutcome(kind=kind, status=200))


def run(ctx: Context) -> list[Figure]:
    folder = ctx.root / "status"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "status.db"
    settings = load_settings(_config(folder, db))
    store = Store.open(settings.database_url)
    try:
        t0 = time.perf_counter()
        fill(store, datetime.now(UTC))
        fill_s = time.perf_counter() - t0
        page = StatusPage(settings, store)
        size = len(page())  # warm: templates, the output folder's walk, SQLite's cache
        cold = sorted(timed(StatusPage(settings, store)) for _ in range(3))
        done = [0]

        def request() -> float:
            _fetch_some(store, done[0])
            done[0] += 1
            return timed(page)

        def count_all() -> int:
            with store.engine.connect() as connection:
                return int(
                    connection.execute(select(func.count()).select_from(ARTICLES)).scalar_one()
                )

        rounds = interleaved([request, lambda: timed(count_all)], ROUNDS)
    finally:
        store.close()
    page_ms = rounds.median(0) * 1000
    base_ms = rounds.median(1) * 1000
    return [
        Figure(
            name="status_page_ms",
            value=round(page_ms, 1),
            unit="ms",
            baseline="SELECT count(*) FROM articles",
            ratio=round(page_ms / base_ms, 3) if base_ms else None,
            target=f"< {TARGET_MS:g}",
            ok=page_ms < TARGET_MS,
            details={
                "sources": SOURCE_COUNT,
                "articles": ARTICLE_COUNT,
                "fetched_between_requests": FETCHED_PER_ROUND,
                "page_bytes": size,
                "baseline_ms": round(base_ms, 1),
                "cold_ms": round(cold[1] * 1000, 1),
                "fill_s": round(fill_s, 1),
                "rounds_ms": [round(x * 1000, 1) for x in rounds.samples[0]],
            },
        )
    ]
