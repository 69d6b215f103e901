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

In a full run the fill runs in a second process beside the big store's (`prepare`,
`bench.beside`), and the family runs right after that fill.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.context import Context
from bench.stores import bulk_insert, epoch_microseconds, filling, sql_datetime
from bench.timing import Figure, interleaved, timed
from db.counters import DAY, HOUR, TOTAL, day_of, hour_of
from db.records import FetchKind, FetchOutcome
from db.store import Store
from db.tables import ARTICLES, BUILDS, COUNTER_TOTALS, SOURCES
from rassegna.config import load_settings
from rassegna.status import StatusPage

NAME = "status_page_ms"
SOURCE_COUNT = 1000
ARTICLE_COUNT = int(os.environ.get("BENCH_STATUS_ARTICLES", "1000000"))
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


_ARTICLE_COLUMNS = (
    "id",
    "uid",
    "source_id",
    "guid",
    "title",
    "summary",
    "content_html",
    "content_text",
    "authors",
    "published",
    "updated",
    "ingested",
    "content_hash",
    "slug",
    "title_key",
    "edit_count",
    "linked_sources",
    "hidden",
    "text_source",
)
_COUNTER_COLUMNS = (
    "source_id",
    "span",
    "bucket",
    "stored",
    "fetch_new",
    "fetch_same",
    "fetch_error",
)
Counter = tuple[int, str, int, int, int, int, int]


def _insert_articles(path: Path, now: datetime, step: timedelta) -> None:
    """`ARTICLE_COUNT` articles spread over the sources, the newest `now`, `step` apart,
    each row made by SQLite from its number in one statement (no row crosses Python, the
    fill's largest cost otherwise); the columns the store's insert would default are
    spelled out with its defaults."""
    at = sql_datetime(":newest - :step * i")
    values = (
        "i + 1, printf('urn:uuid:%032x', i), i % :sources + 1, 'g' || i,"
        " 'Articolo numero ' || i, '', '', '', '[]', at, at, at, printf('%064x', i),"
        " 'articolo-' || i, '', 0, 0, 0, 'feed'"
    )
    statement = (
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :count),"
        f" moment(i, at) AS (SELECT i, {at} FROM n)"
        f" INSERT INTO articles ({', '.join(_ARTICLE_COLUMNS)}) SELECT {values} FROM moment"
    )
    with filling(path) as connection:
        connection.execute(
            statement,
            {
                "count": ARTICLE_COUNT,
                "sources": SOURCE_COUNT,
                "newest": epoch_microseconds(now),
                "step": step // timedelta(microseconds=1),
            },
        )


def _counter_rows(now: datetime) -> list[Counter]:
    """Each source's total row and the 30 day and 168 hour rows a year of polling leaves."""
    today, this_hour = day_of(now), hour_of(now)
    rows: list[Counter] = []
    for source in range(1, SOURCE_COUNT + 1):
        held = ARTICLE_COUNT // SOURCE_COUNT + (source <= ARTICLE_COUNT % SOURCE_COUNT)
        rows.append((source, TOTAL, 0, held, 0, 0, 0))
        rows.extend((source, DAY, today - d, (source + d) % 7, 20, 120, d % 3) for d in range(30))
        rows.extend(
            (source, HOUR, this_hour - h, (source + h) % 3, 1, 5, int(h % 5 == 0))
            for h in range(168)
        )
    return rows


def fill(store: Store, now: datetime) -> None:
    """Sources, articles, counters and builds, in bulk (the big tables as tuples through
    `bench.stores.bulk_insert`: a dict per row through SQLAlchemy would cost several times
    SQLite's own work)."""
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
    path = Path(store.engine.url.database or "")
    _insert_articles(path, now, step)
    counters = _counter_rows(now)
    bulk_insert(path, "counters", _COUNTER_COLUMNS, counters)
    totals: dict[tuple[str, int], int] = {}
    for _source, span, bucket, stored, *_fetches in counters:
        if span != TOTAL:
            totals[(span, bucket)] = totals.get((span, bucket), 0) + stored
    with store.engine.begin() as connection:
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


def filled_config(config: Path) -> tuple[Path, float]:
    """Fill the store `config` names (from `now`), in whichever process calls it; the
    config and the seconds the fill took."""
    store = Store.open(load_settings(config).database_url)
    try:
        t0 = time.perf_counter()
        fill(store, datetime.now(UTC))
        return config, time.perf_counter() - t0
    finally:
        store.close()


def _new_config(ctx: Context) -> Path:
    folder = ctx.root / "status"
    folder.mkdir(parents=True, exist_ok=True)
    db = ctx.templates.fresh_copy("status")  # migrated once per run, copied
    return _config(folder, db)


def prepare(ctx: Context) -> None:
    """Plan the fill to run beside the big store's (`bench.beside`); the family runs right
    after the fill, so the page is drawn as soon after the fill's `now` as before."""
    ctx.beside.plan(NAME, filled_config, _new_config(ctx))


def run(ctx: Context) -> list[Figure]:
    prepared = ctx.beside.take(NAME)
    config, fill_s = prepared if prepared else filled_config(_new_config(ctx))
    settings = load_settings(config)
    store = Store.open(settings.database_url)
    try:
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
            name=NAME,
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
                "filled_beside_big_store": prepared is not None,
                "rounds_ms": [round(x * 1000, 1) for x in rounds.samples[0]],
            },
        )
    ]
