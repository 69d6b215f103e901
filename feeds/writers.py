"""The writer threads of a build: files go to disk while the build renders the next ones.

`feeds.build` and `feeds.sitebuild` hand each rendered file to a `Publisher`, which writes
it (and its gzip twin) only when its bytes changed (`feeds.publish`) and records the
outcome in the build's report and state in the order the files were handed over.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.publish import publish_file

if TYPE_CHECKING:
    from feeds.build import BuildReport, BuildState

# Files rendered but not yet written, at most: bounds the bytes waiting for the writers.
_IN_FLIGHT = 24


class Publisher:
    """Writes the build's files on two worker threads while the build renders the next.

    Compressing the gzip twins (zlib releases the GIL) and the file system calls were
    half of a full build; on another core they overlap with rendering, which holds the
    GIL. Outcomes are taken in submission order, so the report and the state do not
    depend on thread timing; at most `_IN_FLIGHT` files wait, so the bytes held stay
    bounded. Use as a context manager and call `finish` before reading the report.
    """

    def __init__(
        self, out_dir: Path, state: BuildState, report: BuildReport, *, fsync: bool
    ) -> None:
        self.out_dir = out_dir
        self.state = state
        self.report = report
        self.fsync = fsync
        # Folders (output-relative) where a file was replaced: made durable with `fsync`.
        self.touched: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rassegna-publish")
        # (relative, fingerprint, the write's outcome or None for `adopt`)
        self._pending: deque[tuple[str, str, Future[tuple[bool, os.stat_result]] | None]] = deque()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # On an error, files not started yet are dropped; those being written finish.
        self._pool.shutdown(wait=True, cancel_futures=True)

    def publish(self, outputs: Sequence[tuple[str, bytes]], fingerprint: str) -> None:
        """Write each file (and its gzip twin) if its bytes changed; record it in the state."""
        for relative, data in outputs:
            future = self._pool.submit(self._write, relative, data)
            self._pending.append((relative, fingerprint, future))
            self._settle(_IN_FLIGHT)

    def _write(self, relative: str, data: bytes) -> tuple[bool, os.stat_result]:
        # On the worker: the stat the state records comes with the write, instead of one
        # more system call per file on the thread that renders.
        return publish_file(self.out_dir, relative, data, fsync=self.fsync)

    def adopt(self, relative: str, fingerprint: str) -> None:
        """Record a file already there (an archive page kept as it is) unless recorded."""
        self._pending.append((relative, fingerprint, None))

    def touched_folders(self, removed: Iterable[str] = ()) -> list[Path]:
        """The folders whose entries a build changed, sorted, for `fsync_dir` once its
        files are in place: the output folder (state files), each folder where a file
        was replaced and those above it (a folder may have been made for it), and for
        each of `removed` (output-relative files) the nearest folder still there above
        it (the folders it leaves empty go too)."""
        folders = {self.out_dir}
        for relative in self.touched:
            folder = self.out_dir / relative
            while folder not in folders:
                folders.add(folder)
                folder = folder.parent
        for relative in removed:
            folder = (self.out_dir / relative).parent
            while folder != self.out_dir and not folder.is_dir():
                folder = folder.parent
            folders.add(folder)
        return sorted(folders)

    def finish(self) -> None:
        """Wait for every write; raises the first FeedError a write met."""
        self._settle(0)

    def _settle(self, keep: int) -> None:
        while len(self._pending) > keep:
            relative, fingerprint, future = self._pending.popleft()
            if future is None:
                if relative not in self.state.files:
                    self.state.record(relative, fingerprint)
                continue
            written, stat = future.result()
            if written:
                self.report.written.append(relative)
                self.touched.add(relative.rpartition("/")[0])
            else:
                self.report.unchanged.append(relative)
            self.state.record(relative, fingerprint, stat)
