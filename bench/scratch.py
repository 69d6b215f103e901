"""Folders in memory for what a family's subject writes but no figure measures the disk
of: a daemon flushes every feed file it publishes to disk, one by one, and on a slow disk
those flushes lengthen the ticks a figure waits for without changing what it measures
(the daemon's memory, the polls the server counts)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SHM = Path("/dev/shm")


@contextmanager
def output_folder(fallback: Path, name: str) -> Iterator[Path]:
    """A fresh folder in `/dev/shm` (tmpfs) when the machine has one we may write, else
    `fallback / name`; removed on exit when it is in memory (`fallback` is the run's
    temporary folder, removed with it)."""
    if SHM.is_dir() and os.access(SHM, os.W_OK):
        with tempfile.TemporaryDirectory(prefix=f"rassegna-bench-{name}-", dir=SHM) as tmp:
            yield Path(tmp)
    else:
        folder = fallback / name
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
