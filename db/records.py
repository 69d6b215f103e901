"""Plain dataclasses that cross the boundary between the store and `ingest` / `feeds`."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

DEFAULT_TIMEZONE = "Europe/Rome"
"""The zone of a date that names none and the site's zone, unless the configuration's
`site.timezone` says otherwise: the one home of that default, here because both `ingest`
and `feeds` may import `db` (`ingest.DEFAULT_TIMEZONE` is this value)."""

INTERVAL_MIN = 300
"""The shortest an adaptive interval gets unless `[scheduler] min_interval` says otherwise."""
INTERVAL_MAX = 24 * 3600
"""The longest an adaptive interval gets, and the longest a server may make a source wait,
unless `[scheduler] max_interval` says otherwise."""


def picked(source: Any, names: Iterable[str]) -> dict[str, Any]:
    """The attributes `names` of `source` (a row, a record) by name: the values a record
    or a row with fields of the same names takes over unchanged."""
    return {name: getattr(source, name) for name in names}


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalBounds:
    """How a source's polling interval may move: `interval = "auto"` and the bounds of
    the adaptive interval (`interval_max` also bounds the wait a server may ask for).
    The one declaration of these settings for every record that carries them."""

    interval_auto: bool = False
    interval_min: int = INTERVAL_MIN
    interval_max: int = INTERVAL_MAX


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerFloor(IntervalBounds):
    """The server's or feed's lower bound on a source's polling interval and what said it
    ("Cache-Control max-age=600", "RSS ttl", ...), beside the interval's bounds."""

    min_interval_seconds: int | None = None
    min_interval_origin: str | None = None


@dataclass(frozen=True, slots=True)
class SourceSpec(IntervalBounds):
    """A source as the store needs to know it (created or updated on each ingest)."""

    name: str
    kind: str  # "files" | "feed" | "page"
    location: str  # folder path or URL
    category: str | None = None
    interval_seconds: int = 600
    ad_hoc: bool = False  # made by an ad-hoc ingest, not by the configuration


@dataclass(frozen=True, slots=True)
class DraftKeys:
    """What the store derives from a draft's fields to store it (`db.draft_keys.draft_keys`):
    its content hash, the hash of what a reader sees, and its title key."""

    content_hash: str
    visible_hash: str
    title_key: str


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
    text_source: str = "feed"  # "page" when the text was extracted from the article page
    # Set by `db.draft_keys.with_keys` where the draft is made (a normalizer worker), so
    # the one process that stores does not derive them itself. Not an `__init__`
    # argument: a copy made with `dataclasses.replace` (another guid or date) starts
    # without keys, so keys never describe fields other than their own draft's.
    keys: DraftKeys | None = field(default=None, init=False, compare=False, repr=False)


class UpsertOutcome(enum.Enum):
    """What storing one draft did."""

    NEW = "new"
    CHANGED = "changed"
    SAME = "same"


SectionKind = Literal["category", "source", "tag", "topic", "author"]
SECTION_KINDS: tuple[SectionKind, ...] = ("category", "source", "tag", "topic", "author")


@dataclass(frozen=True, slots=True)
class Section:
    """One section of the store: the articles of one category, source, tag, topic or
    author, named by its slug. Reads take `None` for the whole store; where a section
    is published is the feeds' business, not the store's."""

    kind: SectionKind
    slug: str


@dataclass(frozen=True, slots=True)
class Label:
    """A category or a tag: its display name and its URL slug."""

    name: str
    slug: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleHeadline:
    """What a list of stored articles shows of each: the fields a search hit takes over
    from its article as they are, declared once for both."""

    id: int
    uid: str
    title: str
    source_name: str
    source_slug: str
    published: datetime
    summary: str
    url: str | None = None
    category: Label | None = None
    tags: tuple[Label, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredArticle(ArticleHeadline):
    """One stored article as the feeds read it.

    `uid` is the public identity minted once at first ingestion (a `urn:uuid:`), used as
    RSS guid / Atom id / JSON Feed id; it survives edits, slug and URL changes.
    """

    guid: str
    content_html: str
    content_text: str
    updated: datetime
    ingested: datetime
    authors: tuple[str, ...] = ()
    language: str | None = None
    slug: str = ""
    image_url: str | None = None
    # The other sources that brought the same story (cross-source duplicates, linked to
    # this article instead of stored twice), by name.
    also_on: tuple[SourceRef, ...] = ()
    # Where the article's own page lives in the output folder (`db.pages`), minted once.
    page_path: str = ""


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Another source carrying a stored article: its name, slug and its own URL for it."""

    name: str
    slug: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class SourceState(ServerFloor):
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
    # Remote sources (all defaulted, so older callers keep working).
    gone: bool = False
    bozo: str | None = None
    last_status: int | None = None
    last_outcome: str | None = None
    retry_after: datetime | None = None
    fetch_url: str | None = None
    url_history: tuple[str, ...] = ()
    # The polling interval: configured (or 0 for `interval = "auto"`, see `db.schedule`),
    # the one in force and why.
    id: int = 0
    interval_seconds: int = 0
    interval_used: int | None = None
    interval_reason: str | None = None
    ad_hoc: bool = False


@dataclass(slots=True)
class UpsertSummary:
    """Counts of what a batch of upserts did."""

    new: int = 0
    changed: int = 0
    same: int = 0
    # The categories and topics whose articles this batch changed.
    changed_sections: set[Section] = field(default_factory=set)
    # Ids of the articles this batch inserted or changed (for topic matching and callers
    # that follow up on them), and the topic feeds whose membership changed.
    article_ids: list[int] = field(default_factory=list)
    changed_topics: set[str] = field(default_factory=set)
    # Of the `same`: drafts whose hash changed but not what a reader sees (churn), and
    # real edits held back by the per-article cap (`db.upsert_plan.EditCap`).
    churn: int = 0
    deferred: int = 0

    def add(self, outcome: UpsertOutcome) -> None:
        if outcome is UpsertOutcome.NEW:
            self.new += 1
        elif outcome is UpsertOutcome.CHANGED:
            self.changed += 1
        else:
            self.same += 1


@dataclass(frozen=True, slots=True)
class FileFingerprint:
    """What a files source remembers about one file, so an unchanged file is skipped cheaply."""

    guid: str
    mtime_ns: int
    size: int
    content_hash: str


class FetchKind(enum.Enum):
    """How one fetch of a remote source ended, as far as scheduling is concerned."""

    OK = "ok"  # a body was downloaded and parsed
    NOT_MODIFIED = "not_modified"  # 304: success with nothing to parse
    NETWORK = "network"  # DNS, connection, timeout: maybe our network, maybe theirs
    ERROR = "error"  # the server answered with an error, or the body was unusable
    THROTTLED = "throttled"  # 429/503 with Retry-After: postponed, not an error
    GONE = "gone"  # 410: stop polling until the configured URL changes


@dataclass(frozen=True, slots=True)
class FetchState(ServerFloor):
    """What the next fetch of a remote source needs from the store."""

    source_id: int
    url: str  # the URL to fetch (the configured one, or where a confirmed 301/308 leads)
    etag: str | None
    last_modified: str | None
    gone: bool
    consecutive_errors: int
    interval_seconds: int
    # What `Store.record_fetch_outcome` needs to record a success without reading the
    # row again (the claim holds it, so nobody else changes these meanwhile), with the
    # interval settings of `ServerFloor`.
    redirect_target: str | None = None


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """The outcome of one fetch, for `Store.record_fetch_outcome`.

    `etag` / `last_modified` are stored exactly as received when `new_validators` is set
    (a 200 replaces both, even with None; a 304 replaces only the ones it carries).
    `permanent_redirect` is where a chain of only 301/308 led this time.
    `min_interval` is the server's or feed's lower bound on the polling interval, and
    `min_interval_origin` what said it ("Cache-Control max-age=600", "RSS ttl", ...).
    `count_error=None` lets the store decide whether a network error counts: not when
    most remote sources are failing the same way (the machine lost its network).
    """

    kind: FetchKind
    status: int | None = None
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    new_validators: bool = False
    permanent_redirect: str | None = None
    retry_after: datetime | None = None
    min_interval: int | None = None
    bozo: str | None = None
    count_error: bool | None = None
    min_interval_origin: str | None = None


@dataclass(frozen=True, slots=True)
class KnownArticle:
    """An article a source already has, for matching drafts whose identity moved."""

    id: int
    guid: str
    url: str | None
    published: datetime


@dataclass(frozen=True, slots=True)
class TopicDef:
    """A topic feed as configured: a search query plus optional filters.

    `sources`, `categories` and `tags` are names or slugs (compared as slugs);
    `exclude` lists words or phrases no member may contain.
    """

    slug: str
    name: str
    query: str
    title: str = ""
    description: str = ""
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A stored topic as the feeds publish it."""

    slug: str
    name: str
    title: str
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchHit(ArticleHeadline):
    """One search result: what a result list shows, its rank (lower is better) and a
    snippet with the matched words between `db.search.SNIPPET_OPEN` / `SNIPPET_CLOSE`."""

    rank: float
    snippet: str
