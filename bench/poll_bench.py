"""`poll_304_per_s`: sources polled per second when every source answers 304.

1,000 feed sources on 100 loopback hosts (127.0.0.2 ... 127.0.0.101, 10 sources each,
listed round-robin over the hosts as a daemon's claim order would spread them), served by
`bench.loopback` in its own process. A first pass (setup, untimed) stores each source's
one article and its ETag; every timed pass is then 1,000 conditional GETs answered 304.

Four measures, interleaved round after round, each a whole pass with 4 worker threads
(`scheduler.workers`, a `ThreadPoolExecutor` like the daemon's):

0. the pipeline: `rassegna.operations.Ingest.source` with one shared
   `make_fetcher(settings)` (per-host politeness on: one request in flight per host and
   `ingest.host_delay` seconds between two, its default `ingest.fetch.HOST_DELAY` =
   0.25 s) on a SQLite store;
1. raw httpx: one `httpx.Client` with httpx's defaults, the same conditional GETs, the
   same 4 threads and the same per-host gates (`ingest.fetch.HostGates` with the same
   delay). Given the fetcher's 100 idle connections (`ingest.fetch.KEEPALIVE_CONNECTIONS`)
   instead of httpx's 20, this client ran five times slower against the loopback server
   (4.3-4.7 s a pass against 0.9-1.1 s, 2026-12-07; cause not found), while the fetcher's
   passes did not change, so it keeps the defaults;
2. the pipeline with the gates' delay set to 0 (still one request in flight per host);
3. raw httpx with no gates.

The figure is measure 0 in sources/s and its ratio to measure 1 (the same concurrency and
politeness). 2 and 3 are in `details`: they show what the pipeline costs per poll when the
politeness delay does not bound the pass.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.context import Context
from bench.loopback import LoopbackFeeds
from bench.stores import sqlite_url
from bench.timing import Figure, checked_figure, interleaved, stopwatch
from db.store import Store
from ingest.fetch import Fetcher, HostGates
from rassegna.config import Settings, load_settings
from rassegna.operations import Ingest, make_fetcher

SOURCES = 1000
HOSTS = 100
WORKERS = 4
ROUNDS = 3
TARGET_PER_S = 300.0
TARGET_RATIO = 0.7


def source_url(port: int, index: int, hosts: int = HOSTS) -> str:
    return f"http://127.0.0.{2 + index % hosts}:{port}/f{index:05d}"


def _settings(ctx: Context, port: int, db: Path) -> Settings:
    sources = "".join(
        f'\n[[sources]]\nname = "f{i:05d}"\nkind = "feed"\nurl = "{source_url(port, i)}"\n'
        for i in range(SOURCES)
    )
    folder = ctx.root / "poll"
    folder.mkdir(exist_ok=True)
    config = folder / "rassegna.toml"
    config.write_text(
        '[site]\ntitle = "Poll bench"\n\n'
        f"[database]\nurl = {json.dumps(sqlite_url(db))}\n\n"
        f"[scheduler]\nworkers = {WORKERS}\n\n"
        "[server]\nenabled = false\n\n"
        "[ingest]\nallow_private_networks = true\n" + sources,
        encoding="utf-8",
    )
    return load_settings(config, environ={})


def _pipeline_pass(settings: Settings, store: Store, fetcher: Fetcher) -> float:
    sources = settings.sources
    run = Ingest(settings, store, fetcher=fetcher)
    with stopwatch() as t, ThreadPoolExecutor(WORKERS) as pool:
        reports = list(pool.map(run.source, sources))
    errors = [r.error for r in reports if r.error]
    if errors or len(reports) != len(sources):
        raise RuntimeError(f"poll pass had {len(errors)} errors: {errors[:3]}")
    return t[0]


def _raw_pass(client: httpx.Client, urls: list[str], gates: HostGates | None) -> float:
    def one(url: str) -> int:
        etag = '"' + url.rsplit("/", 1)[1] + '-v1"'
        if gates is None:
            return client.get(url, headers={"If-None-Match": etag}).status_code
        with gates.hold(httpx.URL(url).host):
            return client.get(url, headers={"If-None-Match": etag}).status_code

    with stopwatch() as t, ThreadPoolExecutor(WORKERS) as pool:
        statuses = list(pool.map(one, urls))
    if any(s != 304 for s in statuses):
        raise RuntimeError(f"raw pass: statuses {sorted(set(statuses))}")
    return t[0]


def run(ctx: Context) -> list[Figure]:
    db = ctx.templates.fresh_copy("poll")
    with LoopbackFeeds() as feeds:
        settings = _settings(ctx, feeds.port, db)
        urls = [source_url(feeds.port, i) for i in range(SOURCES)]
        store = Store.open(settings.database_url, migrate=False, pool_size=WORKERS + 1)
        polite = make_fetcher(settings)
        ungated = make_fetcher(settings)
        ungated.gates = HostGates(0.0)
        client = httpx.Client(trust_env=False)
        delay = settings.ingest.host_delay
        try:
            with stopwatch() as t:
                _pipeline_pass(settings, store, ungated)  # setup: 200 + ETag, one article each
            first_pass_s = t[0]
            stored = store.article_count()
            before = feeds.count()
            measures: list[Callable[[], float]] = [
                lambda: _pipeline_pass(settings, store, polite),
                lambda: _raw_pass(client, urls, HostGates(delay)),
                lambda: _pipeline_pass(settings, store, ungated),
                lambda: _raw_pass(client, urls, None),
            ]
            rounds = interleaved(measures, ROUNDS)
            after = feeds.count()
        finally:
            client.close()
            polite.close()
            ungated.close()
            store.close()
    timed_requests = after["requests"] - before["requests"]
    if after["not_modified"] - before["not_modified"] != timed_requests:
        raise RuntimeError(f"some timed polls were not answered 304: {before} -> {after}")
    rate = [SOURCES / rounds.median(i) for i in range(4)]
    value = rate[0]
    ratio = rate[0] / rate[1]
    # The per-host politeness floor: each host's sources one after the other, the host
    # delay apart, whatever the number of workers.
    per_host = SOURCES // HOSTS
    floor_s = (per_host - 1) * delay
    return [
        checked_figure(
            "poll_304_per_s",
            value,
            unit="sources/s",
            baseline="raw httpx conditional GETs, same 4 threads, same per-host gates",
            ratio=ratio,
            target=(
                f">= {TARGET_PER_S:g} and ratio >= {TARGET_RATIO:g}",
                lambda v: v >= TARGET_PER_S and ratio >= TARGET_RATIO,
            ),
            details={
                "sources": SOURCES,
                "hosts": HOSTS,
                "workers": WORKERS,
                "host_delay_s": delay,
                "politeness_floor_s": floor_s,
                "politeness_ceiling_per_s": round(SOURCES / floor_s, 1) if floor_s else None,
                "rounds": ROUNDS,
                "pipeline_s": [round(x, 3) for x in rounds.samples[0]],
                "raw_gated_s": [round(x, 3) for x in rounds.samples[1]],
                "pipeline_no_delay_s": [round(x, 3) for x in rounds.samples[2]],
                "raw_no_gates_s": [round(x, 3) for x in rounds.samples[3]],
                "raw_gated_per_s": round(rate[1], 1),
                "pipeline_no_delay_per_s": round(rate[2], 1),
                "raw_no_gates_per_s": round(rate[3], 1),
                "no_delay_ratio": round(rate[2] / rate[3], 4),
                "first_pass_s": round(first_pass_s, 2),
                "articles_stored": stored,
                "timed_requests": timed_requests,
            },
        )
    ]
