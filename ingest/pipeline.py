"""The ingest pipeline for one source: scan, parse, normalize, store, record the fetch.

One bad article never stops the others; whatever was stored before stays stored (a file
that disappeared or broke keeps its last good version in the store).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from ingest.pool import DraftPool, normalize_files
from ingest.screening import record_blocked, screen

log = logging.getLogger("rassegna.ingest")

BATCH_SIZE = 500

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
    total = len(files)
    drafts: list[ArticleDraft] = []
    prints: list[FileFingerprint] = []
    # Blocked files keep no fingerprint: they are read again (and screened again, with
    # the rules of the day) at each scan, but remembered, so counted once.
    blocked: list[BlockedEntry] = []
    # Files read, waiting to be parsed and normalized together (on the pool if any).
    pending: list[tuple[FoundFile, FileFingerprint, bytes]] = []
    batch = _Batch(spec, timezone, rules, pool, report, drafts, prints, blocked)
    for done, found in enumerate(files, start=1):
        previous = known.get(found.guid)
        if previous and (previous.mtime_ns, previous.size) == (found.mtime_ns, found.size):
            report.unchanged_files += 1
        else:
            _read_one(found, previous, report, prints, spec, pending)
        if len(pending) >= BATCH_SIZE:
            batch.normalize(pending)
            _flush(store, source_id, drafts, prints, report)
        if progress is not None:
            progress(done, total)
    batch.normalize(pending)
    _flush(store, source_id, drafts, prints, report)
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


def _read_one(
    found: FoundFile,
    previous: FileFingerprint | None,
    report: IngestReport,
    prints: list[FileFingerprint],
    spec: SourceSpec,
    pending: list[tuple[FoundFile, FileFingerprint, bytes]],
) -> None:
    try:
        # A Path only for the files that are read (see `FoundFile`).
        data = Path(found.path).read_bytes()
    except OSError as exc:
        _skip(report, spec.name, found.path, f"cannot read it: {exc.strerror}")
        return
    digest = content_digest(data)
    fingerprint = FileFingerprint(found.guid, found.mtime_ns, found.size, digest)
    if previous is not None and previous.content_hash == digest:
        # Touched but not edited: remember the new mtime so the next scan skips it.
        report.unchanged_files += 1
        prints.append(fingerprint)
        return
    pending.append((found, fingerprint, data))


@dataclass(slots=True)
class _Batch:
    """Parses and normalizes the files read so far, keeping their order."""

    spec: SourceSpec
    timezone: str
    rules: DraftRules | None
    pool: DraftPool | None
    report: IngestReport
    drafts: list[ArticleDraft]
    prints: list[FileFingerprint]
    blocked: list[BlockedEntry]

    def normalize(self, pending: list[tuple[FoundFile, FileFingerprint, bytes]]) -> None:
        files = [(found, data) for found, _, data in pending]
        category, rules = self.spec.category, self.rules
        if self.pool is None:
            outcomes = normalize_files(files, self.timezone, category, rules)
        else:
            outcomes = self.pool.normalize_files(
                files, timezone=self.timezone, category=category, rules=rules
            )
        now = datetime.now(UTC)
        for (found, fingerprint, _), outcome in zip(pending, outcomes, strict=True):
            if outcome.draft is None:
                _skip(self.report, self.spec.name, found.path, outcome.problem or "unreadable")
                continue
            kept_out = screen(outcome.draft, rules, now)
            if kept_out is not None:
                self.blocked.append(kept_out)
                continue
            self.drafts.append(outcome.draft)
            self.prints.append(fingerprint)
        pending.clear()


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
