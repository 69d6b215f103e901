"""`scale_out_polls_per_s`: source polls per second with 1, 2 and 3 `rassegna run` daemons
sharing one PostgreSQL store (no target: it shows how the claims scale on this machine).

200 feed sources, each on a loopback host of its own (127.0.0.2 ... 127.0.0.201, so the
per-host politeness delay never binds), every `INTERVAL` second, all served by
`bench.loopback` in its own process (a one-item feed with an ETag, then 304s). For each
daemon count, in a fresh PostgreSQL schema (`options=-csearch_path=...`, as the tests'
`pg_store` does, dropped afterwards): start the daemons (real subprocesses, 4 workers
each, server off), wait until every source has been fetched once (the first pass stores
the articles) and then once more with a 304 (the first tick's build is over), let them run
`SETTLE_S`, then count the requests the server answers during
`WINDOW_S`. Demand is `SOURCES / INTERVAL` polls/s: a rate below it is the daemons'
capacity. The three runs are sequential (a daemon count is a whole configuration), so the
load of the machine can differ between them: it is recorded per run.

The PostgreSQL URL is `RASSEGNA_TEST_PG_URL`, else the tests' default
`postgresql+psycopg://postgres@127.0.0.1:5432/test`; unreachable means skipped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.context import Context
from bench.loopback import LoopbackFeeds
from bench.timing import Figure, skipped

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SOURCES = 200
INTERVAL = 1
WORKERS = 4
DAEMONS = (1, 2, 3)
FIRST_PASS_TIMEOUT_S = 90.0
SETTLE_S = 2.0
WINDOW_S = 8.0
REPO = Path(__file__).resolve().parents[1]


def _pg_url() -> str:
    return os.environ.get("RASSEGNA_TEST_PG_URL") or DEFAULT_PG_URL


def _reachable(url: str) -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:  # any driver or network error means "not here"
        return f"PostgreSQL at {url} unreachable: {type(exc).__name__}: {str(exc)[:200]}"
    return None


def _config(folder: Path, port: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sources = "".join(
        f'\n[[sources]]\nname = "f{i:03d}"\nkind = "feed"\n'
        f'url = "http://127.0.0.{2 + i}:{port}/f{i:03d}"\n'
        for i in range(SOURCES)
    )
    path = folder / "rassegna.toml"
    path.write_text(
        '[site]\ntitle = "Scale-out bench"\n\n[output]\ndir = "public"\n\n'
        f'[scheduler]\ninterval = "{INTERVAL}s"\nworkers = {WORKERS}\nlease = "30s"\n\n'
        "[server]\nenabled = false\n\n[ingest]\nallow_private_networks = true\n" + sources,
        encoding="utf-8",
    )
    return path


def _load() -> float:
    return os.getloadavg()[0]


def _one_run(ctx: Context, feeds: LoopbackFeeds, admin_url: str, count: int) -> dict[str, float]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    folder = ctx.root / f"scale-out-{count}"
    config = _config(folder, feeds.port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASSEGNA_")}
    daemons: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        start_count = feeds.count()["requests"]
        started = time.monotonic()
        for k in range(count):
            log = (folder / f"daemon-{k}.log").open("wb")
            logs.append(log)
            daemons.append(
                subprocess.Popen(
                    [sys.executable, "-m", "rassegna", "--config", str(config), "run"],
                    env={
                        **env,
                        "RASSEGNA_DATABASE__URL": url.render_as_string(hide_password=False),
                        "RASSEGNA_STATE__DIR": str(folder / f"var{k}"),
                    },
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=REPO,
                )
            )
        while feeds.count()["requests"] - start_count < SOURCES:
            if any(d.poll() is not None for d in daemons):
                raise RuntimeError(
                    f"a daemon exited: {(folder / 'daemon-0.log').read_text()[-1500:]}"
                )
            if time.monotonic() - started > FIRST_PASS_TIMEOUT_S:
                raise RuntimeError(f"{count} daemons: first pass not done in time")
            time.sleep(0.2)
        first_pass_s = time.monotonic() - started
        # The tick that stored the first articles ends with a full build, with no polls
        # meanwhile: measure only once a whole round of 304 polls has followed it.
        mark = feeds.count()["not_modified"]
        while feeds.count()["not_modified"] - mark < SOURCES:
            if time.monotonic() - started > first_pass_s + FIRST_PASS_TIMEOUT_S:
                raise RuntimeError(f"{count} daemons: no steady polling in time")
            time.sleep(0.2)
        time.sleep(SETTLE_S)
        before = feeds.count()
        t0 = time.monotonic()
        load_before = _load()
        time.sleep(WINDOW_S)
        after = feeds.count()
        window = time.monotonic() - t0
        if any(d.poll() is not None for d in daemons):
            raise RuntimeError(f"{count} daemons: one exited during the window")
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        for log in logs:
            log.close()
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
    polls = after["requests"] - before["requests"]
    return {
        "polls_per_s": round(polls / window, 1),
        "polls": polls,
        "not_modified_share": round(
            (after["not_modified"] - before["not_modified"]) / polls if polls else 0.0, 3
        ),
        "window_s": round(window, 2),
        "first_pass_s": round(first_pass_s, 2),
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(_load(), 2),
    }


def run(ctx: Context) -> list[Figure]:
    url = _pg_url()
    reason = _reachable(url)
    if reason is not None:
        return [skipped("scale_out_polls_per_s", "polls/s", "- (no target)", reason)]
    runs: dict[str, dict[str, float]] = {}
    with LoopbackFeeds() as feeds:
        for count in DAEMONS:
            runs[str(count)] = _one_run(ctx, feeds, url, count)
    rates = [runs[str(c)]["polls_per_s"] for c in DAEMONS]
    return [
        Figure(
            name="scale_out_polls_per_s",
            value=rates[0],
            unit="polls/s (1 daemon)",
            baseline="the same with 2 and 3 daemons on one PostgreSQL store",
            ratio=round(rates[2] / rates[0], 3) if rates[0] else None,
            target="- (no target)",
            ok=None,
            details={
                "polls_per_s": {str(c): r for c, r in zip(DAEMONS, rates, strict=True)},
                "ratio_2_1": round(rates[1] / rates[0], 3) if rates[0] else None,
                "ratio_3_1": round(rates[2] / rates[0], 3) if rates[0] else None,
                "demand_per_s": SOURCES / INTERVAL,
                "sources": SOURCES,
                "interval_s": INTERVAL,
                "workers_per_daemon": WORKERS,
                "runs": runs,
                "informational": "no target",
            },
        )
    ]
