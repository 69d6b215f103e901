"""Normalization of big batches (raw article to draft) on every core.

`to_draft` is a pure function of its arguments, so a batch of raw articles can be
normalized in worker processes and the drafts handed back, in the batch's order, to the
one thread that stores them. Small batches stay in the calling process: sending the
articles to a worker and the drafts back costs more than it saves below `min_batch`.

The pool is created once, on the first batch big enough, and reused until `close`; its
workers import the normalizers and run one article through them before the first task.
A worker that dies (killed, out of memory) breaks the whole executor: the batch is sent
again to a fresh pool once, and normalized in this process if that fails too, so a
crash costs time, never an article.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from multiprocessing.connection import Connection
from typing import TypeVar

from db.draft_keys import with_keys
from db.records import ArticleDraft
from ingest import DEFAULT_TIMEZONE
from ingest.article import DraftRules, to_draft
from ingest.errors import BadArticle
from ingest.files import FoundFile, read_article
from ingest.raw import RawArticle

log = logging.getLogger("rassegna.ingest")

# Below this many articles a batch is normalized in the calling process.
MIN_BATCH = 64
# Articles per task sent to a worker: large enough that pickling is a small share of it,
# small enough that both workers stay busy until the end of the batch.
CHUNK = 32
# Batches handed to the workers beyond the one the caller is storing: enough that the
# workers never wait for the store, few enough to hold little in memory.
AHEAD = 2


T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Normalized:
    """The outcome of one raw article: its draft, or why it cannot be stored."""

    draft: ArticleDraft | None
    problem: str | None = None
    kept_out: str | None = None
    """Why the source's keep/block rules keep the draft out (`DraftRules.kept_out`)."""


Task = Callable[[Sequence[T]], list[R]]
"""A pure function of a batch, one result per item, in order."""


def default_processes() -> int:
    """The number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def normalize_batch(
    raws: Sequence[RawArticle],
    timezone: str,
    category: str | None,
    rules: DraftRules | None,
    now: datetime | None = None,
) -> list[Normalized]:
    """Drafts of `raws` in their order, each with its own BadArticle reason if any, and
    with `now` (the ingest's clock) the verdict of the source's keep/block rules.

    Each draft carries the hashes the store derives from it (`with_keys`), so that work
    is done where the draft is made; so does the rules' verdict, which the single writer
    would otherwise compute on its own clock. The search index text is not among them: its
    analysis is cached per process, and one writer's cache serves every article, where
    each worker would warm its own and send the text back."""
    out: list[Normalized] = []
    for raw in raws:
        try:
            draft = to_draft(raw, timezone=timezone, default_category=category, rules=rules)
            kept_out = rules.kept_out(draft, now) if rules and now else None
            out.append(Normalized(with_keys(draft), kept_out=kept_out))
        except BadArticle as exc:
            out.append(Normalized(None, exc.reason))
    return out


def normalize_files(
    files: Sequence[tuple[FoundFile, bytes]],
    timezone: str,
    category: str | None,
    rules: DraftRules | None,
) -> list[Normalized]:
    """Drafts of article files (their scan entry and bytes), in their order, with their
    keys as `normalize_batch` gives them."""
    out: list[Normalized] = []
    for found, data in files:
        try:
            raw = read_article(found, data)
            draft = to_draft(raw, timezone=timezone, default_category=category, rules=rules)
            out.append(Normalized(with_keys(draft)))
        except BadArticle as exc:
            out.append(Normalized(None, exc.reason))
    return out


_WARM_UP = RawArticle(
    guid="warm-up",
    origin="warm-up",
    title="Il sindaco inaugura la nuova biblioteca",
    published="2026-01-15T10:00:00+01:00",
    body_text="La biblioteca comunale riapre dopo i lavori: più sale e orari più lunghi.",
)


def _start_worker(lifeline: Connection) -> None:
    # Ctrl-C reaches the whole process group: the parent decides when to stop, and
    # shuts the pool down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with_owner, args=(lifeline,), daemon=True).start()
    # Load the language model and the other lazy parts before the first real task.
    normalize_batch([_WARM_UP], DEFAULT_TIMEZONE, None, None)


def _end_with_owner(lifeline: Connection) -> None:
    """End this worker when its owner is gone, however it went. A worker waits for tasks on
    a queue whose write end the workers themselves hold, so an owner killed outright
    (SIGKILL, the OOM killer) would otherwise leave them waiting forever. Nothing is ever
    written on the lifeline: it becomes readable only when the owner's end closes."""
    with contextlib.suppress(OSError, EOFError):
        lifeline.poll(None)
    os._exit(0)


@dataclass(frozen=True, slots=True)
class _How:
    """How one call splits its batches: items per task, and the least batch worth
    sending to the workers."""

    chunk: int
    min_batch: int


class DraftPool:
    """Worker processes for `normalize_batch` and other pure tasks over batches; one per
    process, passed to the pipelines.

    With `processes` 1 every batch is handled in the calling process. Use as a context
    manager (or call `close`) so the workers end with their owner.
    """

    def __init__(self, processes: int | None = None, *, min_batch: int = MIN_BATCH) -> None:
        self.processes = default_processes() if processes is None else max(1, processes)
        self.min_batch = min_batch
        self._executor: ProcessPoolExecutor | None = None
        # The owner keeps the write end of each worker's lifeline (`_end_with_owner`).
        self._lifeline: tuple[Connection, Connection] | None = None
        # The daemon's ingest threads share one pool: creating and discarding it is guarded.
        self._lock = threading.Lock()

    def __enter__(self) -> DraftPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def enabled(self) -> bool:
        return self.processes > 1

    def worker_pids(self) -> list[int]:
        """The process ids of the running workers (none before the first big batch)."""
        if self._executor is None:
            return []
        processes = getattr(self._executor, "_processes", None) or {}
        return list(processes)

    def normalize(
        self,
        raws: Sequence[RawArticle],
        *,
        timezone: str,
        category: str | None,
        rules: DraftRules | None,
    ) -> list[Normalized]:
        """`normalize_batch(raws, ...)`, on the workers when the batch is big enough."""
        task = partial(normalize_batch, timezone=timezone, category=category, rules=rules)
        return self.run(task, raws)

    def run(
        self,
        task: Task[T, R],
        items: Sequence[T],
        *,
        chunk: int = CHUNK,
        min_batch: int | None = None,
    ) -> list[R]:
        """`task(items)`, its items sent `chunk` at a time to the workers when there are
        at least `min_batch` of them (default: the pool's). `task` must be picklable (a
        module's function, or a `functools.partial` of one)."""
        return next(self.stream(task, [items], chunk=chunk, min_batch=min_batch))[1]

    def stream(
        self,
        task: Task[T, R],
        batches: Iterable[Sequence[T]],
        *,
        chunk: int = CHUNK,
        ahead: int = AHEAD,
        min_batch: int | None = None,
    ) -> Iterator[tuple[Sequence[T], list[R]]]:
        """Each batch with `task(batch)`, in order, while the workers already handle the
        next `ahead` batches: the caller stores one batch as the next are normalized.

        `batches` is read ahead too (a generator reading files runs that far ahead)."""
        how = _How(chunk, self.min_batch if min_batch is None else min_batch)
        waiting: deque[tuple[Sequence[T], list[Future[list[R]]] | None]] = deque()
        for batch in batches:
            waiting.append((batch, self._submit(task, batch, how)))
            while len(waiting) > ahead:
                yield self._collect(task, *waiting.popleft(), how)
        while waiting:
            yield self._collect(task, *waiting.popleft(), how)

    def _pooled(self, batch: Sequence[object], how: _How) -> bool:
        return self.enabled and len(batch) >= how.min_batch

    def _submit(
        self, task: Task[T, R], batch: Sequence[T], how: _How
    ) -> list[Future[list[R]]] | None:
        """The batch's chunks handed to the workers; None when it stays in this process
        (small) or the workers could not take it (a broken pool, retried at `_collect`)."""
        if not self._pooled(batch, how):
            return None
        try:
            executor = self._ensure()
            starts = range(0, len(batch), how.chunk)
            return [executor.submit(task, batch[i : i + how.chunk]) for i in starts]
        except BrokenProcessPool:
            return None

    def _collect(
        self,
        task: Task[T, R],
        batch: Sequence[T],
        futures: list[Future[list[R]]] | None,
        how: _How,
    ) -> tuple[Sequence[T], list[R]]:
        if not self._pooled(batch, how):
            return batch, task(batch)
        for attempt in (1, 2):
            try:
                if futures is None:
                    futures = self._submit(task, batch, how)
                if futures is not None:
                    out: list[R] = []
                    for future in futures:
                        out.extend(future.result())
                    return batch, out
            except BrokenProcessPool:
                pass
            log.warning(
                "normalizer pool: a worker died (attempt %d of 2 for a batch of %d)",
                attempt,
                len(batch),
            )
            self._discard()
            futures = None
        log.warning("normalizer pool: normalizing a batch of %d in process", len(batch))
        return batch, task(batch)

    def _ensure(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # forkserver: the workers do not inherit the owner's threads (scheduler,
                # server) nor its open database connections, as a plain fork would.
                context = multiprocessing.get_context("forkserver")
                if self._lifeline is None:
                    self._lifeline = context.Pipe(duplex=False)
                self._executor = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=context,
                    initializer=_start_worker,
                    initargs=(self._lifeline[0],),
                )
            return self._executor

    def _discard(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None

    def close(self) -> None:
        """End the workers (waiting for the task they run)."""
        with self._lock:
            executor, self._executor = self._executor, None
            lifeline, self._lifeline = self._lifeline, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if lifeline is not None:
            for end in lifeline:
                end.close()
