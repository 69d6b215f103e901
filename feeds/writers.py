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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.publish import publish_file

if TYPE_CHECKING:
    from feeds.build import BuildReport, BuildState

# Files rendered but not yet written, at most: bounds the bytes waiting for the writers.
_IN_FLIGHT = 24
# Files handed to a writer thread at once: each hand-over and its outcome are a few lock
# and wake-up calls on both threads, paid per batch instead of per file.
_BATCH_FILES = 8

_Outcome = tuple[bool, os.stat_result]


@dataclass(slots=True)
class _Batch:
    """Files handed to a writer together, and the outcome of each once handed over."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    outcome: Future[list[_Outcome]] | None = None


class Publisher:
    """Writes the build's files on two worker threads while the build renders the next.

    Compressing the gzip twins (zlib releases the GIL) and the file system calls were
    half of a full build; on another core they overlap with rendering, which holds the
    GIL. Files go to the writers `_BATCH_FILES` at a time. Outcomes are taken in
    submission order, so the report and the state do not depend on thread timing; at most
    `_IN_FLIGHT` files wait, so the bytes held stay bounded. Use as a context manager and
    call `finish` before reading the report.
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
        # (relative, fingerprint, its batch and place in it, or None for `adopt`)
        self._pending: deque[tuple[str, str, _Batch | None, int]] = deque()
        self._open = _Batch()  # filling, not handed over yet

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # On an error, files not started yet are dropped; those being written finish.
        self._pool.shutdown(wait=True, cancel_futures=True)

    def publish(self, outputs: Sequence[tuple[str, bytes]], fingerprint: str) -> None:
        """Write each file (and its gzip twin) if its bytes changed; record it in the state."""
        for relative, data in outputs:
            batch = self._open
            batch.files.append((relative, data))
            self._pending.append((relative, fingerprint, batch, len(batch.files) - 1))
            if len(batch.files) == _BATCH_FILES:
                self._hand_over()
            self._settle(_IN_FLIGHT)

    def _hand_over(self) -> None:
        batch, self._open = self._open, _Batch()
        if batch.files:
            batch.outcome = self._pool.submit(self._write, batch.files)

    def _write(self, files: list[tuple[str, bytes]]) -> list[_Outcome]:
        # On the worker: the stat the state records comes with the write, instead of one
        # more system call per file on the thread that renders.
        outcome = [publish_file(self.out_dir, r, data, fsync=self.fsync) for r, data in files]
        files.clear()  # the bytes go now, not when the last file's outcome is taken
        return outcome

    def adopt(self, relative: str, fingerprint: str) -> None:
        """Record a file already there (an archive page kept as it is) unless recorded."""
        self._pending.append((relative, fingerprint, None, 0))

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
            relative, fingerprint, batch, place = self._pending.popleft()
            if batch is None:
                if relative not in self.state.files:
                    self.state.record(relative, fingerprint)
                continue
            if batch.outcome is None:  # the batch still filling: hand it over to wait for it
                self._hand_over()
            assert batch.outcome is not None
            written, stat = batch.outcome.result()[place]
            if written:
                self.report.written.append(relative)
                self.touched.add(relative.rpartition("/")[0])
            else:
                self.report.unchanged.append(relative)
            self.state.record(relative, fingerprint, stat)
