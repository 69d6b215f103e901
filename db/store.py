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
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast, overload

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from db import (
    blocked,
    claims,
    counters,
    fingerprints,
    identity,
    leases,
    listings,
    maintenance,
    pages,
    reads,
    revisions,
    search,
    source_removal,
    sources,
)
from db import fetched_pages as fetched
from db import migrate as schema
from db.draft_keys import content_hash
from db.engine import display_url, make_engine
from db.errors import StoreError, reason_of, translated
from db.labels import author_labels, label_slug
from db.records import (
    DEFAULT_TIMEZONE,
    ArticleDraft,
    FetchState,
    SearchHit,
    Section,
    SourceSpec,
    StoredArticle,
    TopicDef,
    TopicInfo,
    UpsertSummary,
)
from db.schedule import BACKOFF_CAP, JITTER_CAP, JITTER_SHARE, backoff_seconds, jittered
from db.stamps import StampReader, stamp_reader
from db.topics import load_topics, match_topics, sync_topics, topic_infos
from db.upsert import upsert_articles
from db.upsert_plan import EditCap

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
_P = ParamSpec("_P")
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


class _Delegated(Generic[_P, _T]):
    """A part's `function(engine, ...)` as a method of `Store`, `store.name(...)`, with
    errors translated: the signature and docstring stay where the work is done, so the
    method cannot drift from the function it calls."""

    def __init__(self, function: Callable[Concatenate[Engine, _P], _T]) -> None:
        self._function = function
        self._name = function.__name__
        self.__doc__ = function.__doc__

    def __set_name__(self, owner: type[Store], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, store: None, owner: type[Store]) -> _Delegated[_P, _T]: ...

    @overload
    def __get__(self, store: Store, owner: type[Store]) -> Callable[_P, _T]: ...

    def __get__(
        self, store: Store | None, owner: type[Store]
    ) -> _Delegated[_P, _T] | Callable[_P, _T]:
        if store is None:
            return self
        function, engine, database = self._function, store.engine, store.database

        @functools.wraps(function)
        def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            with translated(database):
                return function(engine, *args, **kwargs)

        # Bound once per store: the instance's attribute hides this descriptor from then on.
        vars(store)[self._name] = call
        return call


@contextmanager
def _translated_block(database: str, manager: AbstractContextManager[_T]) -> Iterator[_T]:
    """`manager`, with the errors of entering, leaving and the block translated."""
    with translated(database), manager as value:
        yield value


@_errors_translated
class Store:
    """The article store on one database.

    No SQLAlchemy or driver exception leaves it: they are raised as `DatabaseError`
    (a `StoreError`) naming the database. A method that only hands its arguments to a
    part is that part's function bound to this store's engine (`_Delegated`): see the
    part for what it takes and does.
    """

    def __init__(self, engine: Engine, *, page_timezone: str = DEFAULT_TIMEZONE) -> None:
        self.engine = engine
        # The time zone of new page addresses' <yyyy>/<mm> (the site's, `db.pages`).
        self.page_timezone = page_timezone
        self.database = display_url(str(engine.url))  # as messages show it: no password
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        pool_size: int = 5,
        page_timezone: str = DEFAULT_TIMEZONE,
    ) -> Store:
        """Open the database at `url`, creating or upgrading its schema unless `migrate` is
        off; new page addresses are dated in `page_timezone` (the site's)."""
        engine = make_engine(url, pool_size=pool_size)
        if migrate:
            schema.upgrade(engine)
        return cls(engine, page_timezone=page_timezone)

    def close(self) -> None:
        self.engine.dispose()

    def upgrade(self) -> tuple[str | None, str | None]:
        """Create the schema or bring it to the newest revision; (before, after)."""
        return schema.upgrade(self.engine)

    def ping(self) -> None:
        """Reach the database, or raise StoreError saying why not."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except OperationalError as exc:
            raise StoreError(
                f"database {self.database} is not reachable: {reason_of(exc)}"
            ) from exc

    # -- the parts' own functions, bound to this store's engine (`_Delegated`) -----------

    # schema (db.migrate)
    schema_revision = _Delegated(schema.current_revision)
    # sources, their fetch state and what the rules kept out (db.sources, db.blocked)
    record_fetch = _Delegated(sources.record_fetch)
    blocked_counts = _Delegated(blocked.blocked_counts)
    remember_blocked = _Delegated(blocked.remember_blocked)
    article_ids = _Delegated(blocked.article_ids)
    hidden_ids = _Delegated(blocked.hidden_ids)
    search_stamp = _Delegated(blocked.search_stamp)
    hidden_among = _Delegated(blocked.hidden_among)
    set_hidden = _Delegated(blocked.set_hidden)
    next_due = _Delegated(sources.next_due)
    source_states = _Delegated(sources.source_states)
    fetch_state = _Delegated(sources.fetch_state)
    record_fetch_outcome = _Delegated(sources.record_fetch_outcome)
    # claims and leases (db.claims)
    claim_due = _Delegated(claims.claim_due)
    renew_claims = _Delegated(leases.renew_claims)
    remove_source = _Delegated(source_removal.remove_source)
    release_claims = _Delegated(claims.release_claims)
    # identity, links and duplicates (db.identity)
    known_articles = _Delegated(identity.known_articles)
    linked_guids = _Delegated(identity.linked_guids)
    find_duplicates = _Delegated(identity.find_duplicates)
    link_article = _Delegated(identity.link_article)
    article_sources = _Delegated(identity.article_sources)
    # files (db.fingerprints)
    file_fingerprints = _Delegated(fingerprints.file_fingerprints)
    save_fingerprints = _Delegated(fingerprints.save_fingerprints)
    # reads for the feeds (db.reads, db.stamps)
    latest_articles = _Delegated(reads.latest_articles)
    articles_by_ids = _Delegated(reads.articles_by_ids)
    # listings (db.listings)
    section_counts = _Delegated(listings.section_counts)
    categories = _Delegated(listings.categories)
    sources_with_articles = _Delegated(listings.sources_with_articles)
    tags = _Delegated(listings.tags)
    authors = _Delegated(listings.authors)
    article_count = _Delegated(listings.article_count)
    # article pages fetched for full text (db.fetched_pages)
    fetched_pages = _Delegated(fetched.known_pages)
    save_fetched_pages = _Delegated(fetched.save_pages)
    fetched_page_counts = _Delegated(fetched.page_counts)
    # maintenance (db.maintenance)
    prune = _Delegated(maintenance.prune)
    delete_source_articles = _Delegated(maintenance.delete_source_articles)
    # activity counters and builds, for the status page (db.counters)
    counter_rows = _Delegated(counters.rows)
    stored_per_bucket = _Delegated(counters.stored_per_bucket)
    record_build = _Delegated(counters.record_build)
    last_builds = _Delegated(counters.last_builds)

    # -- sources and their fetch state (db.sources, db.schedule) --------------------------

    def ensure_source(self, spec: SourceSpec) -> int:
        """Create the source or update its settings; returns its id."""
        return sources.ensure_source(self._sessions, spec)

    def prepare_fetch(self, spec: SourceSpec) -> FetchState:
        """`ensure_source` and `fetch_state`, in one read when nothing changed."""
        return sources.prepare_fetch(self.engine, self._sessions, spec)

    # -- claims and leases (db.claims) ------------------------------------------------------

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Hold a database-wide lock named `name` (see `db.claims.exclusive`)."""
        return _translated_block(self.database, claims.exclusive(self.engine, name))

    # -- identity, links and duplicates (db.identity) ---------------------------------------

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

    # -- files (db.fingerprints) --------------------------------------------------------------

    # -- storing articles (db.upsert) ---------------------------------------------------------

    def upsert_articles(
        self,
        source_id: int,
        drafts: Sequence[ArticleDraft],
        *,
        cap: EditCap | None = None,
        now: datetime | None = None,
        seen: bool = False,
    ) -> UpsertSummary:
        """Insert new drafts, update changed ones, leave identical ones untouched (with
        `seen`, every draft's article noted as listed by the source at `now`)."""
        return upsert_articles(
            self.engine,
            source_id,
            drafts,
            cap=cap,
            when=now,
            page_timezone=self.page_timezone,
            seen=seen,
        )

    # -- reads for the feeds (db.reads, db.stamps) ----------------------------------------------

    def stamp_reader(self) -> AbstractContextManager[StampReader]:
        """Cheap (id, content hash, updated) reads of what each feed holds, on one connection."""
        return _translated_block(self.database, stamp_reader(self.engine))

    def page_reader(self) -> AbstractContextManager[pages.PageReader]:
        """The reads of a page build (`db.pages`: streamed page stamps), on one connection."""
        return _translated_block(self.database, pages.page_reader(self.engine))

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
        membership changed. `upsert_articles` already does this for what it writes.
        Changed memberships of stored articles raise the topics revision."""
        with self.engine.begin() as connection:
            changed = match_topics(connection, load_topics(connection), article_ids)
            if changed:
                revisions.bump(connection, revisions.TOPICS)
            return changed

    # -- article pages fetched for full text (db.fetched_pages) -----------------------------

    # -- maintenance (db.maintenance) -------------------------------------------------------

    def optimize(self) -> None:
        """Routine maintenance: old activity counters go, then SQLite's `PRAGMA optimize`
        (PostgreSQL has autovacuum)."""
        counters.prune(self.engine, datetime.now(UTC))
        maintenance.optimize(self.engine)

    # -- activity counters and builds, for the status page (db.counters) -------------------
