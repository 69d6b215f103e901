"""`Store`, the one object the rest of the program uses to reach the database.

It opens the engine and delegates each job to the module that owns it: `db.sources`
(sources and their fetch state, decided by `db.schedule`), `db.claims` and `db.leases`
(claims, leases, locks), `db.identity` (which stored article an entry is, links, duplicates),
`db.fingerprints` (files sources), `db.upsert` (storing drafts, planned by
`db.upsert_plan`), `db.reads` (articles for the feeds), `db.stamps` (their change
stamps), `db.listings` (labels and counts), `db.search` and `db.topics` (search and
topic feeds) and `db.maintenance`. Every method opens and closes its own connection and returns
dataclasses from `db.records`, so callers never hold ORM rows or sessions.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from db import (
    blocked,
    claims,
    counters,
    fetched_pages,
    fingerprints,
    identity,
    leases,
    listings,
    maintenance,
    pages,
    reads,
    search,
    source_removal,
    sources,
)
from db.blocked import BlockedEntry
from db.engine import display_url, make_engine
from db.errors import StoreError, reason_of, translated
from db.fetched_pages import PageRecord
from db.labels import author_labels, label_slug
from db.migrate import current_revision, upgrade
from db.records import (
    ArticleDraft,
    FetchOutcome,
    FetchState,
    FileFingerprint,
    KnownArticle,
    Label,
    SearchHit,
    Section,
    SourceSpec,
    SourceState,
    StoredArticle,
    TopicDef,
    TopicInfo,
    UpsertSummary,
)
from db.schedule import BACKOFF_CAP, JITTER_CAP, JITTER_SHARE, backoff_seconds, jittered
from db.stamps import StampReader, stamp_reader
from db.topics import load_topics, match_topics, sync_topics, topic_infos
from db.upsert import upsert_articles
from db.upsert_plan import EditCap, content_hash

__all__ = [
    "BACKOFF_CAP",
    "JITTER_CAP",
    "JITTER_SHARE",
    "EditCap",
    "Store",
    "author_labels",
    "backoff_seconds",
    "content_hash",
    "jittered",
    "label_slug",
]


_T = TypeVar("_T")
_Method = TypeVar("_Method", bound=Callable[..., Any])
_Class = TypeVar("_Class", bound=type)


def _translating(method: _Method) -> _Method:
    """`method` with SQLAlchemy's and the driver's errors raised as `DatabaseError`."""

    @functools.wraps(method)
    def call(self: Store, *args: Any, **kwargs: Any) -> Any:
        with translated(self.database):
            return method(self, *args, **kwargs)

    return cast(_Method, call)


def _errors_translated(cls: _Class) -> _Class:
    """Wrap every public method of `cls` with `_translating`."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(member):
            setattr(cls, name, _translating(member))
    return cls


@contextmanager
def _translated_block(database: str, manager: AbstractContextManager[_T]) -> Iterator[_T]:
    """`manager`, with the errors of entering, leaving and the block translated."""
    with translated(database), manager as value:
        yield value


@_errors_translated
class Store:
    """The article store on one database.

    No SQLAlchemy or driver exception leaves it: they are raised as `DatabaseError`
    (a `StoreError`) naming the database.
    """

    def __init__(self, engine: Engine, *, page_timezone: str = "UTC") -> None:
        self.engine = engine
        # The time zone of new page addresses' <yyyy>/<mm> (the site's, `db.pages`).
        self.page_timezone = page_timezone
        self.database = display_url(str(engine.url))  # as messages show it: no password
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(
        cls, url: str, *, migrate: bool = True, pool_size: int = 5, page_timezone: str = "UTC"
    ) -> Store:
        """Open the database at `url`, creating or upgrading its schema unless `migrate` is
        off; new page addresses are dated in `page_timezone` (the site's)."""
        engine = make_engine(url, pool_size=pool_size)
        if migrate:
            upgrade(engine)
        return cls(engine, page_timezone=page_timezone)

    def close(self) -> None:
        self.engine.dispose()

    def schema_revision(self) -> str | None:
        """The schema revision the database is at (None: no schema yet)."""
        return current_revision(self.engine)

    def upgrade(self) -> tuple[str | None, str | None]:
        """Create the schema or bring it to the newest revision; (before, after)."""
        return upgrade(self.engine)

    def ping(self) -> None:
        """Reach the database, or raise StoreError saying why not."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except OperationalError as exc:
            raise StoreError(
                f"database {self.database} is not reachable: {reason_of(exc)}"
            ) from exc

    # -- sources and their fetch state (db.sources, db.schedule) --------------------------

    def ensure_source(self, spec: SourceSpec) -> int:
        """Create the source or update its settings; returns its id."""
        return sources.ensure_source(self._sessions, spec)

    def record_fetch(
        self, source_id: int, *, error: str | None, when: datetime | None = None
    ) -> None:
        """Note the outcome of one read of a local source and when it is due next."""
        sources.record_fetch(self.engine, source_id, error=error, when=when)

    def blocked_counts(self) -> dict[str, int]:
        """How many entries the keep/block rules kept out, by source name (`db.blocked`)."""
        return blocked.blocked_counts(self.engine)

    def remember_blocked(
        self, source_id: int, entries: Sequence[BlockedEntry], when: datetime
    ) -> list[BlockedEntry]:
        """Remember entries the rules kept out; returns those not remembered before."""
        return blocked.remember_blocked(self.engine, source_id, entries, when)

    def article_ids(self, *, since: datetime | None, source: str | None = None) -> list[int]:
        """Articles published since `since` (all when None), of one source (name or slug)
        or of all, hidden ones included, newest first."""
        return blocked.article_ids(self.engine, since=since, source=source)

    def hidden_ids(self) -> list[int]:
        """Every article hidden by `rassegna rules apply`, oldest id first."""
        return blocked.hidden_ids(self.engine)

    def search_stamp(self) -> tuple[int, int]:
        """The newest article id and the hidden revision: a cached search answer is good
        while both are the same."""
        return blocked.search_stamp(self.engine)

    def hidden_among(self, ids: Sequence[int]) -> set[int]:
        """Which of `ids` are hidden."""
        return blocked.hidden_among(self.engine, ids)

    def set_hidden(self, ids: Sequence[int], hidden: bool) -> int:
        """Hide (or show again) these articles in every feed; returns how many changed."""
        return blocked.set_hidden(self.engine, ids, hidden)

    def next_due(self, names: Sequence[str]) -> datetime | None:
        """When the first of these sources is due next."""
        return sources.next_due(self.engine, names)

    def source_states(self, *, exact_counts: bool = True) -> list[SourceState]:
        """Every source and what its last fetches did, by name; article counts from the
        sources' kept totals instead of counted with `exact_counts` off."""
        return sources.source_states(self.engine, exact_counts=exact_counts)

    def fetch_state(self, source_id: int) -> FetchState:
        """The URL and validators the next fetch of a remote source uses."""
        return sources.fetch_state(self.engine, source_id)

    def prepare_fetch(self, spec: SourceSpec) -> FetchState:
        """`ensure_source` and `fetch_state`, in one read when nothing changed."""
        return sources.prepare_fetch(self.engine, self._sessions, spec)

    def record_fetch_outcome(
        self,
        source_id: int,
        outcome: FetchOutcome,
        *,
        when: datetime | None = None,
        state: FetchState | None = None,
    ) -> datetime:
        """Note how one fetch of a remote source ended and schedule the next; returns it."""
        return sources.record_fetch_outcome(self.engine, source_id, outcome, when=when, state=state)

    # -- claims and leases (db.claims) ------------------------------------------------------

    def claim_due(
        self,
        owner: str,
        names: Sequence[str],
        *,
        now: datetime | None = None,
        lease_seconds: int = claims.LEASE_SECONDS,
        limit: int | None = None,
    ) -> list[str]:
        """Claim the sources among `names` that are due and not claimed by a live lease."""
        return claims.claim_due(
            self.engine, owner, names, when=now, lease_seconds=lease_seconds, limit=limit
        )

    def renew_claims(
        self,
        owner: str,
        names: Collection[str],
        *,
        lease_seconds: int,
        now: datetime | None = None,
    ) -> list[str]:
        """Renew `owner`'s leases on `names` (see `db.leases.renew_claims`)."""
        return leases.renew_claims(self.engine, owner, names, lease_seconds=lease_seconds, now=now)

    def remove_source(self, name: str, *, with_articles: bool) -> int | None:
        """Delete a source (see `db.source_removal.remove_source`)."""
        return source_removal.remove_source(self.engine, name, with_articles=with_articles)

    def release_claims(self, owner: str) -> int:
        """Give back every claim of `owner`; returns how many."""
        return claims.release_claims(self.engine, owner)

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Hold a database-wide lock named `name` (see `db.claims.exclusive`)."""
        return _translated_block(self.database, claims.exclusive(self.engine, name))

    # -- identity, links and duplicates (db.identity) ---------------------------------------

    def known_articles(
        self, source_id: int, guids: Sequence[str], urls: Sequence[str] = ()
    ) -> list[KnownArticle]:
        """Articles of the source with one of these guids or URLs."""
        return identity.known_articles(self.engine, source_id, guids, urls)

    def mark_seen(self, source_id: int, guids: Sequence[str], when: datetime) -> None:
        """Note that the source still lists these articles."""
        identity.mark_seen(self.engine, source_id, guids, when)

    def linked_guids(self, source_id: int, guids: Sequence[str]) -> set[str]:
        """Guids of this source that are stored as another source's article."""
        return identity.linked_guids(self.engine, source_id, guids)

    def find_duplicate(
        self,
        source_id: int,
        *,
        url: str | None,
        title: str,
        published: datetime,
        window: timedelta,
        lead: str | None = None,
    ) -> int | None:
        """The id of an article of another source telling the same story, or None."""
        leads = None if lead is None else [lead]
        return identity.find_duplicates(
            self.engine, source_id, [(url, title, published)], window=window, leads=leads
        )[0]

    def find_duplicates(
        self,
        source_id: int,
        candidates: Sequence[identity.DuplicateCandidate],
        *,
        window: timedelta,
        leads: Sequence[str] | None = None,
    ) -> list[int | None]:
        """`find_duplicate` for many (url, title, published) at once, in a few queries."""
        return identity.find_duplicates(
            self.engine, source_id, candidates, window=window, leads=leads
        )

    def link_article(
        self,
        source_id: int,
        guid: str,
        article_id: int,
        when: datetime,
        url: str | None = None,
    ) -> None:
        """Record that this source's entry `guid` (at `url`) is the article `article_id`."""
        identity.link_article(self.engine, source_id, guid, article_id, when, url)

    def article_sources(self, article_id: int) -> list[str]:
        """Names of every source that carries the article: its own, then linked ones."""
        return identity.article_sources(self.engine, article_id)

    # -- files (db.fingerprints) --------------------------------------------------------------

    def file_fingerprints(self, source_id: int) -> dict[str, FileFingerprint]:
        """What the source remembers of each of its files, by guid."""
        return fingerprints.file_fingerprints(self.engine, source_id)

    def save_fingerprints(self, source_id: int, prints: Iterable[FileFingerprint]) -> None:
        """Remember files whose article was stored (or that were unchanged)."""
        fingerprints.save_fingerprints(self.engine, source_id, prints)

    # -- storing articles (db.upsert) ---------------------------------------------------------

    def upsert_articles(
        self,
        source_id: int,
        drafts: Sequence[ArticleDraft],
        *,
        cap: EditCap | None = None,
        now: datetime | None = None,
    ) -> UpsertSummary:
        """Insert new drafts, update changed ones, leave identical ones untouched."""
        return upsert_articles(
            self.engine, source_id, drafts, cap=cap, when=now, page_timezone=self.page_timezone
        )

    # -- reads for the feeds (db.reads, db.stamps) ----------------------------------------------

    def stamp_reader(self) -> AbstractContextManager[StampReader]:
        """Cheap (id, content hash, updated) reads of what each feed holds, on one connection."""
        return _translated_block(self.database, stamp_reader(self.engine))

    def page_reader(self) -> AbstractContextManager[pages.PageReader]:
        """The reads of a page build (`db.pages`: streamed page stamps), on one connection."""
        return _translated_block(self.database, pages.page_reader(self.engine))

    def latest_articles(self, limit: int, section: Section | None = None) -> list[StoredArticle]:
        """The newest `limit` articles, of one section or of the whole store."""
        return reads.latest_articles(self.engine, limit, section)

    def articles_by_ids(self, ids: Iterable[int]) -> dict[int, StoredArticle]:
        """The stored articles with these ids (those that still exist), by id."""
        return reads.articles_by_ids(self.engine, ids)

    def oldest_articles(
        self,
        limit: int,
        section: Section | None = None,
        *,
        offset: int = 0,
        after: reads.Key | None = None,
    ) -> list[StoredArticle]:
        """`limit` articles oldest first (published, then id), of one section or all.

        `offset` skips that many from the oldest; `after` = (published, id) of the last
        article a previous call returned starts right after it instead (a keyset read,
        the same cost at any depth). For feed archives, written one page at a time.
        """
        mode = "offset" if after is None else "after"
        return reads.paged(self.engine, mode, limit, section, offset=offset, key=after)

    def articles_before(
        self, limit: int, before: reads.Key, section: Section | None = None
    ) -> list[StoredArticle]:
        """The `limit` articles just older than `before` = (published, id), newest first."""
        return reads.paged(self.engine, "before", limit, section, key=before)

    # -- listings (db.listings) -------------------------------------------------------------

    def section_counts(self, *, authors: bool = True) -> dict[Section | None, int]:
        """How many articles the store (key None) and each of its sections hold."""
        return listings.section_counts(self.engine, authors=authors)

    def categories(self) -> list[Label]:
        """Categories that have at least one article, by slug."""
        return listings.categories(self.engine)

    def sources_with_articles(self) -> list[Label]:
        """Sources with at least one article, their own or linked, by slug."""
        return listings.sources_with_articles(self.engine)

    def tags(self, min_articles: int = 1) -> list[Label]:
        """Tags used by at least `min_articles` articles, by slug."""
        return listings.tags(self.engine, min_articles)

    def authors(self, min_articles: int = 1) -> list[Label]:
        """Authors signing at least `min_articles` articles, by slug."""
        return listings.authors(self.engine, min_articles)

    def article_count(self) -> int:
        """How many articles the store holds."""
        return listings.article_count(self.engine)

    # -- search and topics (db.search, db.topics) -------------------------------------------

    def search(
        self,
        query: str,
        *,
        source: str | None = None,
        category: str | None = None,
        since: datetime | None = None,
        limit: int = 20,
        rank_newest: int = search.RANK_NEWEST,
    ) -> list[SearchHit]:
        """Articles matching `query` (see `db.search`), best first; raises QueryError.

        On SQLite only the newest `rank_newest` matches are ranked (`search.RANK_NEWEST`
        says why)."""
        return search.run_search(
            self.engine,
            query,
            search.Filters(
                sources=(source,) if source else (),
                categories=(category,) if category else (),
                since=since,
            ),
            limit,
            reads.load_articles,
            rank_newest=rank_newest,
        )

    def sync_topics(self, topics: Sequence[TopicDef]) -> list[str]:
        """Make the stored topics those configured; returns the slugs back-filled (new or
        edited definitions). Unchanged topics cost one read."""
        with self.engine.begin() as connection:
            return sync_topics(connection, topics)

    def topics(self) -> list[TopicInfo]:
        """The stored (configured) topics, by slug."""
        with self.engine.connect() as connection:
            return topic_infos(connection)

    def match_topics(self, article_ids: Sequence[int]) -> set[str]:
        """Re-evaluate these articles against every stored topic; returns the topics whose
        membership changed. `upsert_articles` already does this for what it writes."""
        with self.engine.begin() as connection:
            return match_topics(connection, load_topics(connection), article_ids)

    # -- article pages fetched for full text (db.fetched_pages) -----------------------------

    def fetched_pages(self, source_id: int, urls: Sequence[str]) -> dict[str, PageRecord]:
        """What the article pages at these URLs gave when last fetched, by URL."""
        return fetched_pages.known_pages(self.engine, source_id, urls)

    def save_fetched_pages(self, source_id: int, records: Sequence[PageRecord]) -> None:
        """Remember what these article pages gave (replacing what was known)."""
        fetched_pages.save_pages(self.engine, source_id, records)

    def fetched_page_counts(self) -> dict[str, tuple[int, int]]:
        """(pages that gave the full text, pages that did not) per source name."""
        return fetched_pages.page_counts(self.engine)

    # -- maintenance (db.maintenance) -------------------------------------------------------

    def prune(
        self,
        *,
        older_than: datetime | None = None,
        keep_per_source: int | None = None,
        protect: Collection[int] = (),
    ) -> int:
        """Delete old articles except those in `protect`; returns how many went."""
        return maintenance.prune(
            self.engine, older_than=older_than, keep_per_source=keep_per_source, protect=protect
        )

    def delete_source_articles(self, source_id: int, guids: Iterable[str]) -> int:
        """Remove the given articles of a source; returns how many went."""
        return maintenance.delete_source_articles(self.engine, source_id, guids)

    def optimize(self) -> None:
        """Routine maintenance: old activity counters go, then SQLite's `PRAGMA optimize`
        (PostgreSQL has autovacuum)."""
        counters.prune(self.engine, datetime.now(UTC))
        maintenance.optimize(self.engine)

    # -- activity counters and builds, for the status page (db.counters) -------------------

    def counter_rows(
        self, span: str, since: int, source_ids: Sequence[int] | None = None
    ) -> list[counters.CounterTuple]:
        """Every source's (or only `source_ids`') hour (`counters.HOUR`) or day rows from
        bucket `since` on."""
        return counters.rows(self.engine, span, since, source_ids)

    def stored_per_bucket(self, span: str, since: int) -> dict[int, int]:
        """Articles all sources stored, by hour or day bucket from `since` on."""
        return counters.stored_per_bucket(self.engine, span, since)

    def record_build(self, build: counters.BuildRecord) -> None:
        """Remember one build of the feeds and pages."""
        counters.record_build(self.engine, build)

    def last_builds(self, limit: int = 10) -> Sequence[counters.BuildRecord]:
        """The newest builds, newest first."""
        return counters.last_builds(self.engine, limit)
