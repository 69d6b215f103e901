"""The daemon with normalizer workers: memory of the whole process tree (proportional set
size), and SIGTERM while the workers normalize its first cycle."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import spawn_run, write_config
from tests.process_tree import descendants, pss_mb

# systemd's TimeoutStopSec is 90 s by default; a stop must come well within it even on a
# loaded test machine.
STOP_TIMEOUT = 45
PSS_LIMIT_MB = 200


def test_sigterm_during_a_pooled_first_cycle(tmp_path: Path) -> None:
    folder = tmp_path / "articoli"
    folder.mkdir()
    for n in range(600):
        (folder / f"{n:04d}.txt").write_text(
            f"Il consiglio comunale approva la delibera numero {n}\n"
            "La giunta ha presentato il piano per la città.\n\n"
            + "Il sindaco ha spiegato perché la decisione è così importante. " * 20
            + "\n",
            encoding="utf-8",
        )
    config = write_config(
        tmp_path,
        """
[site]
title = "Prova"
base_url = "http://127.0.0.1:8080/"

[server]
enabled = false

[ingest]
processes = 2

[[sources]]
name = "Archivio"
kind = "files"
path = "articoli"
""",
    )
    process = spawn_run(config, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # The forkserver and its two workers appear once the first big batch is sent.
        deadline = time.monotonic() + 120
        while len(descendants(process.pid)) < 3:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "no normalizer worker started"
            time.sleep(0.05)
        # The workers load the normalizers, then normalize: the tree's peak while they run.
        peak = 0.0
        tree = [process.pid, *descendants(process.pid)]
        until = time.monotonic() + 3
        while time.monotonic() < until and process.poll() is None:
            tree = [process.pid, *descendants(process.pid)]
            peak = max(peak, pss_mb(tree))
            time.sleep(0.1)
        assert peak <= PSS_LIMIT_MB
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, output
    assert "Traceback" not in output
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in tree[1:]):
        assert time.monotonic() < deadline, "a normalizer worker outlived the daemon"
        time.sleep(0.1)
