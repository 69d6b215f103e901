"""`serve_vs_nginx`: `rassegna serve` / nginx, requests per second answering conditional
GETs of `rss.xml` (If-None-Match with the current ETag, so every answer is a 304).

Both serve the same folder: a real build (`rassegna ingest --all` of 50 generated files,
which builds the feeds after storing them, in a subprocess). `rassegna serve` runs as a
subprocess on a free port; nginx (the Debian package) runs `docs/nginx.conf` adapted by
`tests/nginx_site.py`, as `tests/test_nginx.py` does (listen on a free loopback port, root
= the folder, a private prefix for pid, logs and temp paths; 1 worker process, as the
server has). The same client measures both: a Python load generator of `CONCURRENCY`
threads, each with its own keep-alive `http.client` connection, sending `Accept-Encoding:
gzip` (a feed reader's request) for `DURATION_S` seconds; rounds interleaved, median of
the rounds. The client runs in the benchmark's process on the same 2 cores as the server:
with nginx it is the client that saturates first, so the ratio flatters `rassegna serve`
(nginx's true rate is higher).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.context import Context
from bench.timing import Figure, at_least, checked_figure, interleaved, skipped
from tests.nginx_site import find_nginx, nginx_command

REPO = Path(__file__).resolve().parents[1]
CONCURRENCY = 8
DURATION_S = 3.0
ROUNDS = 5
TARGET = 0.2
FILES = 50


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RASSEGNA_")}


def _site(ctx: Context, port: int) -> tuple[Path, Path]:
    """A config and its built output folder."""
    folder = ctx.root / "serve"
    articles = ctx.files_folder("serve", FILES)
    config = folder / "rassegna.toml"
    folder.mkdir(exist_ok=True)
    config.write_text(
        '[site]\ntitle = "Serve bench"\n'
        f'base_url = "http://127.0.0.1:{port}/"\n\n'
        f"[state]\ndir = {json.dumps(str(folder / 'state'))}\n\n"
        f"[output]\ndir = {json.dumps(str(folder / 'public'))}\n\n"
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n\n'
        '[[sources]]\nname = "Archivio"\nkind = "files"\n'
        f'path = {json.dumps(str(articles))}\ncategory = "Cronaca"\n',
        encoding="utf-8",
    )
    # One process: `ingest` builds the feeds after storing, as `rassegna build` would.
    subprocess.run(
        [sys.executable, "-m", "rassegna", "--config", str(config), "ingest", "--all"],
        check=True,
        capture_output=True,
        env=_env(),
        cwd=REPO,
        timeout=300,
    )
    return config, folder / "public"


def _start_nginx(nginx: str, prefix: Path, public: Path, port: int) -> subprocess.Popen[bytes]:
    command = nginx_command(
        nginx,
        prefix,
        public,
        port,
        worker_connections=256,
        http_extra="access_log off;\n    keepalive_requests 1000000;",
    )
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t: {check.stderr}")
    return subprocess.Popen(
        [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _wait(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/rss.xml")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


_HEADERS = {"Accept-Encoding": "gzip", "User-Agent": "rassegna-bench"}


def _etag(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/rss.xml", headers=_HEADERS)
    response = connection.getresponse()
    response.read()
    connection.close()
    etag = response.getheader("ETag")
    if response.status != 200 or not etag:
        raise RuntimeError(f"port {port}: rss.xml answered {response.status}, ETag {etag}")
    return etag


def _load(port: int, etag: str, counts: list[int]) -> float:
    """Requests/s of CONCURRENCY keep-alive clients for DURATION_S; every answer a 304."""
    headers = {**_HEADERS, "If-None-Match": etag}
    stop = threading.Event()
    done = [0] * CONCURRENCY
    bad = [0] * CONCURRENCY

    def client(k: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            while not stop.is_set():
                connection.request("GET", "/rss.xml", headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status == 304:
                    done[k] += 1
                else:
                    bad[k] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CONCURRENCY)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(DURATION_S)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if sum(bad):
        raise RuntimeError(f"port {port}: {sum(bad)} answers were not 304")
    counts.append(sum(done))
    return sum(done) / elapsed


def run(ctx: Context) -> list[Figure]:
    nginx = find_nginx()
    if nginx is None:
        return [
            skipped(
                "serve_vs_nginx",
                "ratio",
                f">= {TARGET:g}",
                "nginx is not installed (apt-get install nginx-light)",
            )
        ]
    ours, theirs = _free_port(), _free_port()
    config, public = _site(ctx, ours)
    server = subprocess.Popen(
        [sys.executable, "-m", "rassegna", "--config", str(config), "serve", "--port", str(ours)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
        cwd=REPO,
    )
    web = _start_nginx(nginx, ctx.root / "nginx", public, theirs)
    try:
        _wait(ours)
        _wait(theirs)
        tags = (_etag(ours), _etag(theirs))
        counts: tuple[list[int], list[int]] = ([], [])
        # Rates, not times: the measures return 1/rate so that `interleaved` medians work.
        rounds = interleaved(
            [
                lambda: 1 / _load(ours, tags[0], counts[0]),
                lambda: 1 / _load(theirs, tags[1], counts[1]),
            ],
            ROUNDS,
        )
    finally:
        for process in (server, web):
            process.terminate()
        for process in (server, web):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    ours_rate = 1 / rounds.median(0)
    theirs_rate = 1 / rounds.median(1)
    value = ours_rate / theirs_rate
    return [
        checked_figure(
            "serve_vs_nginx",
            value,
            unit="ratio",
            baseline="nginx (docs/nginx.conf, 1 worker) serving the same folder, same client",
            ratio=value,
            digits=4,
            target=at_least(TARGET),
            details={
                "rassegna_req_per_s": round(ours_rate, 1),
                "nginx_req_per_s": round(theirs_rate, 1),
                "rassegna_rounds_req_per_s": [round(1 / x, 1) for x in rounds.samples[0]],
                "nginx_rounds_req_per_s": [round(1 / x, 1) for x in rounds.samples[1]],
                "concurrency": CONCURRENCY,
                "duration_s": DURATION_S,
                "rounds": ROUNDS,
                "client": "Python threads, http.client keep-alive, Accept-Encoding: gzip",
                "etags": list(tags),
            },
        )
    ]
