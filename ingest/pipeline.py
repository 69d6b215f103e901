"""The ingest pipeline for one source: scan, parse, normalize, store, record the fetch.

One bad article never stops the others; whatever was stored before stays stored (a file
that disappeared or broke keeps its last good version in the store).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from db.blocked import BlockedEntry
from db.records import ArticleDraft, FileFingerprint, Section, SourceSpec, UpsertSummary
from db.store import Store
from ingest import DEFAULT_TIMEZONE
from ingest.article import DraftRules
from ingest.errors import IngestError
from ingest.files import (
    FoundFile,
    content_digest,
    is_utf8_name,
    printable_path,
    scan_folder,
)
from ingest.pool import DraftPool, Normalized, normalize_files
from ingest.screening import record_blocked, screen

log = logging.getLogger("rassegna.ingest")

BATCH_SIZE = 250

Progress = Callable[[int, int], None]
"""Called with (done, total) as files are processed."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One article that was skipped: where, and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(slots=True)
class IngestReport:
    """What one ingest of one source did."""

    source: str
    new: int = 0
    changed: int = 0
    same: int = 0
    unchanged_files: int = 0
    blocked: int = 0  # entries keep/block rules kept out for the first time
    problems: list[Problem] = field(default_factory=list)
    changed_sections: set[Section] = field(default_factory=set)
    error: str | None = None
    full_text_ok: int = 0  # article pages whose text replaced a truncated feed's
    full_text_failed: int = 0  # article pages that failed or gave less than the feed

    @property
    def stored(self) -> int:
        return self.new + self.changed

    @property
    def ok(self) -> bool:
        return self.error is None and not self.problems

    def merge(self, summary: UpsertSummary) -> None:
        self.new += summary.new
        self.changed += summary.changed
        self.same += summary.same
        self.changed_sections |= summary.changed_sections


def ingest_files_source(
    store: Store,
    spec: SourceSpec,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    root: Path | None = None,
    only: Path | None = None,
    progress: Progress | None = None,
    rules: DraftRules | None = None,
    pool: DraftPool | None = None,
) -> IngestReport:
    """Ingest the folder of a files source (or just the file or subfolder `only` in it).

    With a `pool`, big batches of files are parsed and normalized on its workers."""
    report = IngestReport(source=spec.name)
    root = Path(spec.location) if root is None else root
    if not root.is_dir():
        raise IngestError(f'source "{spec.name}": folder {root} does not exist')
    source_id = store.ensure_source(spec)
    known = store.file_fingerprints(source_id)
    bad_names: list[str] = []
    if only is not None and only.is_file():
        st = only.stat()
        guid = only.relative_to(root).as_posix()
        if is_utf8_name(guid):
            files = [FoundFile(only, guid, st.st_mtime_ns, st.st_size)]
        else:
            files, bad_names = [], [printable_path(only)]
    else:
        files = list(scan_folder(only or root, base=root, bad_names=bad_names))
    for name in sorted(bad_names):
        _skip(report, spec.name, name, "its name is not valid UTF-8; rename it to ingest it")
    drafts: list[ArticleDraft] = []
    prints: list[FileFingerprint] = []
    # Blocked files keep no fingerprint: they are read again (and screened again, with
    # the rules of the day) at each scan, but remembered, so counted once.
    blocked: list[BlockedEntry] = []
    reader = _Reader(files, known, report, spec, prints, progress)
    batch = _Batch(spec, timezone, rules, report, drafts, prints, blocked, reader.fingerprints)
    # With a pool, the workers parse and normalize the next batches while this thread
    # stores the current one.
    for files_read, outcomes in _normalized(reader.batches(), pool, spec, timezone, rules):
        batch.sort(files_read, outcomes)
        _flush(store, source_id, drafts, prints, report)
    _flush(store, source_id, drafts, prints, report)  # files touched but not edited
    if blocked:
        now = datetime.now(UTC)
        report.blocked += record_blocked(store, source_id, spec.name, blocked, now)
    error = f"{len(report.problems)} files skipped" if report.problems else None
    store.record_fetch(source_id, error=error)
    log.info(
        'source "%s": %d new, %d changed, %d unchanged, %d skipped, %d blocked',
        spec.name,
        report.new,
        report.changed,
        report.same + report.unchanged_files,
        len(report.problems),
        report.blocked,
    )
    return report


@dataclass(slots=True)
class _Reader:
    """Reads the new and changed files of a scan, `BATCH_SIZE` at a time."""

    files: list[FoundFile]
    known: dict[str, FileFingerprint]
    report: IngestReport
    spec: SourceSpec
    prints: list[FileFingerprint]
    progress: Progress | None
    fingerprints: dict[str, FileFingerprint] = field(default_factory=dict)  # by guid

    def batches(self) -> Iterator[list[tuple[FoundFile, bytes]]]:
        pending: list[tuple[FoundFile, bytes]] = []
        total = len(self.files)
        for done, found in enumerate(self.files, start=1):
            previous = self.known.get(found.guid)
            if previous and (previous.mtime_ns, previous.size) == (found.mtime_ns, found.size):
                self.report.unchanged_files += 1
            else:
                self._read_one(found, previous, pending)
            if len(pending) >= BATCH_SIZE:
                yield pending
                pending = []
            if self.progress is not None:
                self.progress(done, total)
        if pending:
            yield pending

    def _read_one(
        self,
        found: FoundFile,
        previous: FileFingerprint | None,
        pending: list[tuple[FoundFile, bytes]],
    ) -> None:
        try:
            # A Path only for the files that are read (see `FoundFile`).
            data = Path(found.path).read_bytes()
        except OSError as exc:
            _skip(self.report, self.spec.name, found.path, f"cannot read it: {exc.strerror}")
            return
        digest = content_digest(data)
        fingerprint = FileFingerprint(found.guid, found.mtime_ns, found.size, digest)
        if previous is not None and previous.content_hash == digest:
            # Touched but not edited: remember the new mtime so the next scan skips it.
            self.report.unchanged_files += 1
            self.prints.append(fingerprint)
            return
        self.fingerprints[found.guid] = fingerprint
        pending.append((found, data))


def _normalized(
    batches: Iterator[list[tuple[FoundFile, bytes]]],
    pool: DraftPool | None,
    spec: SourceSpec,
    timezone: str,
    rules: DraftRules | None,
) -> Iterator[tuple[Sequence[tuple[FoundFile, bytes]], list[Normalized]]]:
    task = partial(normalize_files, timezone=timezone, category=spec.category, rules=rules)
    if pool is None:
        return ((files, task(files)) for files in batches)
    return pool.stream(task, batches)


@dataclass(slots=True)
class _Batch:
    """Sorts the outcomes of parsed and normalized files, keeping their order."""

    spec: SourceSpec
    timezone: str
    rules: DraftRules | None
    report: IngestReport
    drafts: list[ArticleDraft]
    prints: list[FileFingerprint]
    blocked: list[BlockedEntry]
    fingerprints: dict[str, FileFingerprint]

    def sort(
        self, files: Sequence[tuple[FoundFile, bytes]], outcomes: Sequence[Normalized]
    ) -> None:
        now = datetime.now(UTC)
        for (found, _), outcome in zip(files, outcomes, strict=True):
            fingerprint = self.fingerprints.pop(found.guid)
            if outcome.draft is None:
                _skip(self.report, self.spec.name, found.path, outcome.problem or "unreadable")
                continue
            kept_out = screen(outcome.draft, self.rules, now)
            if kept_out is not None:
                self.blocked.append(kept_out)
                continue
            self.drafts.append(outcome.draft)
            self.prints.append(fingerprint)


def _skip(report: IngestReport, source_name: str, path: str | Path, reason: str) -> None:
    report.problems.append(Problem(str(path), reason))
    log.warning('source "%s": skipped %s: %s', source_name, path, reason)


def _flush(
    store: Store,
    source_id: int,
    drafts: list[ArticleDraft],
    prints: list[FileFingerprint],
    report: IngestReport,
) -> None:
    if drafts:
        report.merge(store.upsert_articles(source_id, drafts))
    if prints:
        store.save_fingerprints(source_id, prints)
    drafts.clear()
    prints.clear()
