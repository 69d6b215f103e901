"""`daemon_rss_mb`: memory of `rassegna run` and its children after 3 ticks, with 1,000
sources and the big store.

The daemon runs as a real subprocess with a generated configuration: 1,000 files sources
(one article each, every 2 s), the big store as its database, the HTTP server off. Ticks
are counted from the `STATUS=` datagrams it sends after each tick to a `NOTIFY_SOCKET`
we bind, exactly as systemd would receive them. The figure is the proportional set size
(`/proc/<pid>/smaps_rollup`) of the daemon and every process below it (the normalizer
pool's, when a batch was big enough to start it); `details` has VmRSS too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.context import Context
from bench.corpus import txt_text
from bench.scratch import output_folder
from bench.stores import sqlite_url
from bench.timing import Figure, at_most, checked_figure
from tests.process_tree import descendants, pss_mb

TICKS = 3
TIMEOUT_S = 240.0


def _config(ctx: Context, db: Path, folder: Path, output: Path) -> Path:
    sources = []
    for i in range(ctx.sizes.daemon_sources):
        source_dir = folder / f"fonte-{i:04d}"
        source_dir.mkdir(parents=True, exist_ok=True)
        (source_dir / "articolo.txt").write_text(txt_text(ctx.corpus.article(50_000 + i)))
        sources.append(
            f'[[sources]]\nname = "Fonte {i:04d}"\nkind = "files"\n'
            f'path = {json.dumps(str(source_dir))}\ninterval = "2s"\n'
        )
    text = (
        '[site]\ntitle = "Rassegna bench"\n'
        'link = "http://127.0.0.1:8080/"\nbase_url = "http://127.0.0.1:8080/"\n\n'
        f"[state]\ndir = {json.dumps(str(ctx.root / 'daemon-state'))}\n\n"
        f"[database]\nurl = {json.dumps(sqlite_url(db))}\n\n"
        f"[output]\ndir = {json.dumps(str(output))}\n\n"
        '[scheduler]\ninterval = "2s"\nworkers = 4\n\n'
        "[server]\nenabled = false\n\n" + "\n".join(sources)
    )
    path = ctx.root / "daemon.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def _field_kib(path: str, name: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(ctx: Context) -> list[Figure]:
    # The feeds the daemon publishes go to memory: their flush to disk is no part of the
    # daemon's memory, and on a slow disk it lengthens every tick the figure waits for.
    with output_folder(ctx.root, "daemon-public") as output:
        return _measure(ctx, output)


def _measure(ctx: Context, output: Path) -> list[Figure]:
    db = ctx.stores.filled(ctx.sizes.big_store)
    config = _config(ctx, db, ctx.root / "daemon-sources", output)
    address = str(ctx.root / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(1.0)
    env = {**os.environ, "NOTIFY_SOCKET": address}
    env.pop("WATCHDOG_USEC", None)
    log = (ctx.root / "daemon.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "rassegna", "--config", str(config), "run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    statuses: list[str] = []
    tick_times: list[float] = []
    try:
        while len(statuses) < TICKS:
            if process.poll() is not None:
                raise RuntimeError(
                    f"rassegna run exited with {process.returncode}: "
                    + (ctx.root / "daemon.log").read_text(errors="replace")[-2000:]
                )
            if time.monotonic() - started > TIMEOUT_S:
                raise RuntimeError(f"rassegna run did not tick {TICKS} times in {TIMEOUT_S}s")
            try:
                message = listener.recv(65536).decode("utf-8", errors="replace")
            except TimeoutError:
                continue
            fields = dict(line.split("=", 1) for line in message.splitlines() if "=" in line)
            if "STATUS" in fields and "READY" not in fields:
                statuses.append(fields["STATUS"])
                tick_times.append(round(time.monotonic() - started, 1))
        rss_kib = _vm_rss_kib(process.pid)
        tree = [process.pid, *descendants(process.pid)]
        tree_pss = pss_mb(tree)
        tree_rss_kib = sum(_field_kib(f"/proc/{pid}/status", "VmRSS:") for pid in tree)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        listener.close()
        log.close()
    return [
        checked_figure(
            "daemon_rss_mb",
            tree_pss,
            unit="MB",
            baseline="absolute (PSS of the daemon and its normalizer workers after 3 ticks)",
            target=at_most(200),
            details={
                "sources": ctx.sizes.daemon_sources,
                "processes": len(tree),
                "daemon_vm_rss_mb": round(rss_kib / 1024, 1),
                "tree_vm_rss_mb": round(tree_rss_kib / 1024, 1),
                "store_articles": ctx.sizes.big_store,
                "tick_done_at_s": tick_times,
                "last_status": statuses[-1] if statuses else None,
            },
        )
    ]
