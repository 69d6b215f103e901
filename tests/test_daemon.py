"""`rassegna run` under a fake systemd: a real process, a real datagram NOTIFY_SOCKET, real
signals, real HTTP. What systemd and an operator would see."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.conftest import free_port, run_cli, spawn_run, wait_for_http


@dataclass
class Systemd:
    """The receiving end of NOTIFY_SOCKET: collects every datagram the daemon sends."""

    sock: socket.socket
    address: str
    messages: list[tuple[float, str]] = field(default_factory=list)

    def collect(self, until: float) -> None:
        while time.monotonic() < until:
            self.sock.settimeout(max(0.01, until - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def wait_for(self, field_: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            for when, message in self.messages:
                if field_ in message.split("\n"):
                    return when
            if time.monotonic() > deadline:
                raise AssertionError(f"no {field_} within {timeout}s; got {self.messages}")
            self.collect(min(deadline, time.monotonic() + 0.2))

    def lines(self, prefix: str) -> list[str]:
        return [
            line
            for _, message in self.messages
            for line in message.split("\n")
            if line.startswith(prefix)
        ]


def _systemd(tmp_path: Path, abstract: bool) -> Systemd:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"rassegna-test-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind("\0" + name)
        return Systemd(sock, "@" + name)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    return Systemd(sock, str(path))


@dataclass
class Running:
    process: subprocess.Popen[str]
    base: str
    folder: Path
    config: Path
    env: dict[str, str]
    systemd: Systemd


def _start(
    site_config: Path, systemd: Systemd, port: int, extra: dict[str, str] | None = None
) -> Running:
    base = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASSEGNA_")}
    env.update(
        {
            "NOTIFY_SOCKET": systemd.address,
            "WATCHDOG_USEC": "1000000",
            "RASSEGNA_SERVER__PORT": str(port),
            "RASSEGNA_SITE__BASE_URL": base,
            **(extra or {}),
        }
    )
    process = spawn_run(site_config, env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return Running(process, base, site_config.parent / "articoli", site_config, env, systemd)


@pytest.fixture(params=["path", "abstract"])
def running(request: pytest.FixtureRequest, site_config: Path, tmp_path: Path) -> Iterator[Running]:
    systemd = _systemd(tmp_path, abstract=request.param == "abstract")
    daemon = _start(site_config, systemd, free_port())
    try:
        yield daemon
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(10)
        systemd.sock.close()


def _rss_titles(base: str) -> list[str]:
    feed = feedparser.parse(httpx.get(base + "rss.xml").content)
    assert feed.bozo == 0
    return [entry.title for entry in feed.entries]


def test_notify_watchdog_drop_in_reload_and_stop(running: Running) -> None:
    systemd = running.systemd
    ready_at = systemd.wait_for("READY=1", timeout=10)
    wait_for_http(running.base + "healthz")
    # Watchdog pings at half of WATCHDOG_USEC (1 s): about two per second.
    systemd.collect(time.monotonic() + 2.5)
    pings = [
        when for when, message in systemd.messages if "WATCHDOG=1" in message and when > ready_at
    ]
    assert len(pings) >= 3, systemd.messages
    assert any("sources" in line for line in systemd.lines("STATUS="))
    deadline = time.monotonic() + 10
    while len(_rss_titles(running.base)) < 3:
        assert time.monotonic() < deadline, "the first cycle did not publish the articles"
        time.sleep(0.2)

    # A file dropped into the folder reaches the feed within 5 seconds.
    dropped = time.monotonic()
    (running.folder / "nuovo.txt").write_text(
        "Nevicata in collina, scuole chiuse a Montalto\nIl sindaco ha firmato l'ordinanza.\n\nCorpo.\n",
        encoding="utf-8",
    )
    while "Nevicata in collina, scuole chiuse a Montalto" not in _rss_titles(running.base):
        assert time.monotonic() - dropped < 5, "a dropped file took more than 5 s to publish"
        time.sleep(0.1)

    health = httpx.get(running.base + "healthz")
    assert health.status_code == 200 and health.json()["ok"] is True
    metrics = httpx.get(running.base + "metrics").text
    assert 'rassegna_fetches_total{outcome="ok"}' in metrics
    assert "rassegna_tick_duration_seconds_count" in metrics
    assert 'rassegna_source_consecutive_errors{source="Articoli di prova"} 0.0' in metrics
    assert 'rassegna_source_blocked_entries{source="Articoli di prova"} 0.0' in metrics
    found = feedparser.parse(httpx.get(running.base + "cerca", params={"q": "nevicata"}).content)
    assert found.bozo == 0
    assert [e.title for e in found.entries] == ["Nevicata in collina, scuole chiuse a Montalto"]

    # SIGHUP with a broken config: logged, the old config stays, the daemon runs on.
    good = running.config.read_text(encoding="utf-8")
    running.config.write_text(good.replace('kind = "files"', 'kind = "cartella"'), encoding="utf-8")
    running.process.send_signal(signal.SIGHUP)
    systemd.wait_for("RELOADING=1", timeout=5)
    time.sleep(1)
    assert running.process.poll() is None
    assert httpx.get(running.base + "healthz").status_code == 200
    readies = [m for _, m in systemd.messages if "READY=1" in m.split("\n")]
    assert len(readies) >= 2, "READY=1 must follow RELOADING=1"

    # SIGTERM: STOPPING=1, exit 0 within 10 s, every feed file still whole.
    running.config.write_text(good, encoding="utf-8")
    running.process.send_signal(signal.SIGTERM)
    output, _ = running.process.communicate(timeout=10)
    assert running.process.returncode == 0, output
    systemd.collect(time.monotonic() + 0.2)
    assert systemd.lines("STOPPING=1")
    assert "keeping the previous configuration" in output
    assert "Traceback" not in output
    out = running.config.parent / "var" / "public"
    for path in out.rglob("*.xml"):
        if path.name != "opml.xml":
            assert feedparser.parse(path.read_bytes()).bozo == 0, path


def test_second_daemon_on_same_sqlite_refuses(running: Running) -> None:
    running.systemd.wait_for("READY=1", timeout=10)
    second = run_cli(
        "--config",
        str(running.config),
        "run",
        env={"RASSEGNA_SERVER__PORT": str(free_port())},
        timeout=30,
    )
    assert second.returncode == 1
    assert "another rassegna daemon" in second.stderr
    assert str(running.process.pid) in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1


def test_cli_ingest_while_daemon_runs(running: Running) -> None:
    running.systemd.wait_for("READY=1", timeout=10)
    for i in range(5):
        (running.folder / f"extra-{i}.txt").write_text(
            f"Notizia numero {i} della giornata\nSommario {i}.\n\nCorpo {i}.\n", encoding="utf-8"
        )
    for _ in range(3):
        result = run_cli("--config", str(running.config), "ingest", "--all", env=running.env)
        assert result.returncode == 0, result.stderr
    time.sleep(1.5)  # let the watcher's own run finish too
    articles = run_cli("--config", str(running.config), "articles", "--json", "-n", "100")
    import json

    guids = [a["guid"] for a in json.loads(articles.stdout)]
    assert len(guids) == len(set(guids)) == 8


def test_topic_feed_gets_a_match_within_one_tick_and_is_left_alone_otherwise(
    site_config: Path, tmp_path: Path
) -> None:
    """Issue #10: a topic feed receives a matching article within one daemon tick, and a
    tick that brought nothing matching does not rewrite it."""
    site_config.write_text(
        site_config.read_text(encoding="utf-8")
        + '\n[[topics]]\nname = "Valanghe"\nquery = "valanga OR valanghe"\n',
        encoding="utf-8",
    )
    systemd = _systemd(tmp_path, abstract=False)
    daemon = _start(site_config, systemd, free_port())
    topic = site_config.parent / "var" / "public" / "tema" / "valanghe"
    try:
        systemd.wait_for("READY=1", timeout=10)
        wait_for_http(daemon.base + "healthz")
        deadline = time.monotonic() + 10
        # The topic's page (index.html and its twin) is published after its feeds: the
        # first tick is over only when it is there too.
        while (
            not (topic / "atom.xml").exists()
            or not (topic / "index.html.gz").exists()
            or len(_rss_titles(daemon.base)) < 3
        ):
            assert time.monotonic() < deadline, "the first tick did not publish the topic feed"
            time.sleep(0.2)
        assert feedparser.parse((topic / "atom.xml").read_bytes()).entries == []
        before = {p.name: p.stat().st_mtime_ns for p in topic.iterdir()}

        # An article that matches no topic: the root feed gets it, the topic files stay.
        (daemon.folder / "traffico.txt").write_text(
            "Traffico in tangenziale per un incidente\nCode fino a Lambrate.\n\nCorpo.\n",
            encoding="utf-8",
        )
        deadline = time.monotonic() + 5
        while "Traffico in tangenziale per un incidente" not in _rss_titles(daemon.base):
            assert time.monotonic() < deadline, "the dropped file was not published"
            time.sleep(0.1)
        assert {p.name: p.stat().st_mtime_ns for p in topic.iterdir()} == before

        # A matching article: in the topic feed within the next tick (files are watched).
        (daemon.folder / "valanga.txt").write_text(
            "Valanga sul versante nord, evacuato un rifugio\nNessun ferito.\n\nCorpo.\n",
            encoding="utf-8",
        )
        deadline = time.monotonic() + 5
        while True:
            parsed = feedparser.parse(httpx.get(daemon.base + "tema/valanghe/atom.xml").content)
            if [e.title for e in parsed.entries] == [
                "Valanga sul versante nord, evacuato un rifugio"
            ]:
                break
            assert time.monotonic() < deadline, "the topic feed did not get the match"
            time.sleep(0.1)
        assert parsed.bozo == 0
    finally:
        daemon.process.send_signal(signal.SIGTERM)
        try:
            daemon.process.communicate(timeout=10)
        finally:
            if daemon.process.poll() is None:
                daemon.process.kill()
            systemd.sock.close()
