"""Plain dataclasses that cross the boundary between the store and `ingest` / `feeds`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as the store needs to know it (created or updated on each ingest)."""

    name: str
    kind: str  # "files" | "feed" | "page"
    location: str  # folder path or URL
    category: str | None = None
    interval_seconds: int = 600


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """One article as ingest produced it, before it is stored.

    `guid` is unique within its source and stable across runs; `published` and `updated`
    are timezone-aware. `content_html` is already sanitized HTML.
    """

    guid: str
    title: str
    summary: str
    content_html: str
    content_text: str
    published: datetime
    url: str | None = None
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    category: str | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None
    slug: str = ""
    image_url: str | None = None


class UpsertOutcome(enum.Enum):
    """What storing one draft did."""

    NEW = "new"
    CHANGED = "changed"
    SAME = "same"


@dataclass(frozen=True, slots=True)
class Label:
    """A category or a tag: its display name and its URL slug."""

    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """One stored article as the feeds read it.

    `uid` is the public identity minted once at first ingestion (a `urn:uuid:`), used as
    RSS guid / Atom id / JSON Feed id; it survives edits, slug and URL changes.
    """

    id: int
    uid: str
    source_name: str
    source_slug: str
    guid: str
    title: str
    summary: str
    content_html: str
    content_text: str
    published: datetime
    updated: datetime
    ingested: datetime
    url: str | None = None
    authors: tuple[str, ...] = ()
    category: Label | None = None
    tags: tuple[Label, ...] = ()
    language: str | None = None
    slug: str = ""
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source and what its last fetches did, for `rassegna sources`."""

    name: str
    slug: str
    kind: str
    location: str
    category: str | None
    article_count: int
    last_fetch: datetime | None
    last_success: datetime | None
    last_error: str | None
    consecutive_errors: int
    next_due: datetime | None


@dataclass(frozen=True, slots=True)
class FileFingerprint:
    """What a files source remembers about one file, so an unchanged file is skipped cheaply."""

    guid: str
    mtime_ns: int
    size: int
    content_hash: str


@dataclass(slots=True)
class UpsertSummary:
    """Counts of what a batch of upserts did."""

    new: int = 0
    changed: int = 0
    same: int = 0
    changed_sections: set[str] = field(default_factory=set)

    def add(self, outcome: UpsertOutcome) -> None:
        if outcome is UpsertOutcome.NEW:
            self.new += 1
        elif outcome is UpsertOutcome.CHANGED:
            self.changed += 1
        else:
            self.same += 1
