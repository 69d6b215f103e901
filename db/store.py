"""Store functions: upsert articles, remember files and fetches, and read the latest articles.

Every public method opens and closes its own session and returns dataclasses from
`db.records`, so callers never hold ORM rows or sessions.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from slugify import slugify
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    any_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from db import dedup, leases, models, pages, search
from db.engine import display_url, make_engine
from db.errors import StoreError
from db.migrate import upgrade
from db.records import (
    ArticleDraft,
    FetchKind,
    FetchOutcome,
    FetchState,
    FileFingerprint,
    KnownArticle,
    Label,
    SearchHit,
    SourceRef,
    SourceSpec,
    SourceState,
    StoredArticle,
    TopicDef,
    TopicInfo,
    UpsertOutcome,
    UpsertSummary,
)
from db.stamps import StampReader, latest_ids, section_filter, stamp_reader
from db.types import UTCDateTime

_ARTICLES = cast(Table, models.Article.__table__)
_CATEGORIES = cast(Table, models.Category.__table__)
_TAGS = cast(Table, models.Tag.__table__)
_SOURCES = cast(Table, models.Source.__table__)
_FINGERPRINTS = cast(Table, models.FileFingerprint.__table__)
_ARTICLE_TAGS = models.article_tags
_AUTHORS = cast(Table, models.Author.__table__)
_ARTICLE_AUTHORS = models.article_authors
_TOPIC_ARTICLES = models.topic_articles
CHUNK = 500
"""Values per `IN (...)`: well under SQLite's and PostgreSQL's bound-parameter limits."""


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _dialect_insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """`INSERT` in the connection's dialect, for its `ON CONFLICT` clauses (both supported
    databases have the same ones, under the same names)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


@lru_cache(maxsize=8192)
def label_slug(name: str) -> str:
    """The URL slug of a category, tag or source name (`Attualità` → `attualita`).

    Cached: every stored article asks for the slugs of its few labels, and a site has a
    few thousand of them at most, while python-slugify costs ~20 µs a call."""
    return slugify(name, lowercase=True, replacements=[["'", "-"], ["’", "-"]]) or "senza-nome"


NAME_LENGTH = 200
"""Longest author name and slug stored (`authors` columns are `String(200)`)."""


def author_labels(names: Iterable[str]) -> dict[str, str]:
    """The authors of one article as {slug: name}, in order, blank and repeated ones
    dropped (`Mario Rossi` and `mario rossi` are one author). Shared with the back-fill of
    revision 0007, so that stored and migrated rows agree."""
    labels: dict[str, str] = {}
    for name in names:
        clean = " ".join(name.split())[:NAME_LENGTH]
        if clean:
            labels.setdefault(label_slug(clean)[:NAME_LENGTH].strip("-") or "senza-nome", clean)
    return labels


def content_hash(draft: ArticleDraft) -> str:
    """Hash of everything a reader sees, so an unchanged re-ingest is recognised."""
    payload = json.dumps(
        [
            draft.title,
            draft.summary,
            draft.content_html,
            draft.url,
            list(draft.authors),
            draft.category,
            list(draft.tags),
            draft.published.astimezone(UTC).isoformat(),
            draft.language,
            draft.slug,
            draft.image_url,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


BACKOFF_CAP = 24 * 3600
"""No transient error ever delays a source by more than a day: it recovers by itself."""
RETRY_AFTER_CAP = 7 * 24 * 3600
MIN_INTERVAL_CAP = 24 * 3600
REDIRECT_CONFIRMATIONS = 3
"""A 301/308 target must be seen on this many consecutive fetches before it is adopted."""
GONE_DUE = datetime(9999, 1, 1, tzinfo=UTC)
"""`next_due` of a gone source: schedulers that only read `next_due` never pick it."""
NETWORK_DOWN_WINDOW = timedelta(hours=2)
NETWORK_DOWN_MIN_SOURCES = 3
REMOTE_KINDS = ("feed", "page")


def backoff_seconds(interval: int, errors: int, salt: int = 0) -> int:
    """Delay before retrying after `errors` consecutive transient errors.

    Doubles from the source's own interval and is capped at 24 h. The jitter (up to 20 %
    shorter) comes from a hash of `salt` and `errors`, not from a random generator: it is
    reproducible in tests yet spreads sources that failed together apart.
    """
    if errors <= 0:
        return interval
    base = min(BACKOFF_CAP, interval * 2 ** min(errors, 32))
    digest = hashlib.sha256(f"{salt}:{errors}".encode()).digest()
    jitter = digest[0] / 255 * 0.2
    return max(interval, int(base * (1 - jitter)))


UPSERT_ATTEMPTS = 3
SLUG_PROBE = 50
JITTER_SHARE = 0.1
JITTER_CAP = 120
"""A regular poll comes up to 10 % of the interval (at most 2 minutes) late, so sources
with the same interval drift apart instead of all firing in the same second."""


def jittered(interval: int, salt: int, when: datetime) -> int:
    """`interval` plus a jitter that is reproducible (a hash of the source and the time)."""
    digest = hashlib.sha256(f"{salt}:{int(when.timestamp())}".encode()).digest()
    spread = min(interval * JITTER_SHARE, JITTER_CAP)
    return interval + int(digest[0] / 255 * spread)


# The columns a fetch needs, read with Core (no ORM identity map): one row per poll.
_FETCH_STATE = select(
    _SOURCES.c.id,
    _SOURCES.c.kind,
    _SOURCES.c.location,
    _SOURCES.c.category,
    _SOURCES.c.interval_seconds,
    _SOURCES.c.fetch_url,
    _SOURCES.c.etag,
    _SOURCES.c.last_modified,
    _SOURCES.c.gone,
    _SOURCES.c.consecutive_errors,
    _SOURCES.c.min_interval_seconds,
    _SOURCES.c.redirect_target,
)


# Built once: SQLAlchemy then skips building and keying the statement on every poll.
_FETCH_BY_ID = _FETCH_STATE.where(_SOURCES.c.id == bindparam("id"))
_FETCH_BY_NAME = _FETCH_STATE.where(_SOURCES.c.name == bindparam("name"))
_SUCCESS_UPDATES: dict[tuple[str, ...], Any] = {}


def _success_update(values: dict[str, Any]) -> Any:
    """The UPDATE of one source setting these columns (a handful of variants, cached)."""
    columns = tuple(sorted(values))
    statement = _SUCCESS_UPDATES.get(columns)
    if statement is None:
        statement = (
            update(_SOURCES)
            .where(_SOURCES.c.id == bindparam("id_"))
            .values({c: bindparam(f"v_{c}", type_=_SOURCES.c[c].type) for c in columns})
        )
        _SUCCESS_UPDATES[columns] = statement
    return statement


def _fetch_state(row: Any) -> FetchState:
    return FetchState(
        source_id=row.id,
        url=row.fetch_url or row.location,
        etag=row.etag,
        last_modified=row.last_modified,
        gone=bool(row.gone),
        consecutive_errors=row.consecutive_errors or 0,
        interval_seconds=row.interval_seconds,
        min_interval_seconds=row.min_interval_seconds,
        redirect_target=row.redirect_target,
    )


class Store:
    """The article store on one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, pool_size: int = 5) -> Store:
        """Open the database at `url`, creating or upgrading its schema unless `migrate` is off."""
        engine = make_engine(url, pool_size=pool_size)
        if migrate:
            upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """Reach the database, or raise StoreError saying why not."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreError(
                f"database {display_url(str(self.engine.url))} is not reachable: {reason}"
            ) from exc

    # -- sources -------------------------------------------------------------------------

    def ensure_source(self, spec: SourceSpec) -> int:
        """Create the source or update its settings; returns its id.

        Several daemons starting together may create the same source at once: the one
        that loses the race finds the winner's row on its second try.
        """
        try:
            return self._ensure_source(spec)
        except IntegrityError:
            return self._ensure_source(spec)

    def _ensure_source(self, spec: SourceSpec) -> int:
        with self._sessions.begin() as session:
            source = session.scalar(select(models.Source).where(models.Source.name == spec.name))
            if source is None:
                source = models.Source(
                    name=spec.name,
                    slug=self._free_source_slug(session, label_slug(spec.name)),
                    kind=spec.kind,
                    location=spec.location,
                    category=spec.category,
                    interval_seconds=spec.interval_seconds,
                    created_at=_now(),
                    consecutive_errors=0,
                )
                session.add(source)
                session.flush()
            else:
                if source.location != spec.location:
                    # A new configured URL is a new start: the gone flag, the adopted
                    # redirect and the validators all belonged to the old one.
                    if source.location and source.location not in (source.url_history or []):
                        source.url_history = [*(source.url_history or []), source.location]
                    source.fetch_url = None
                    source.gone = False
                    source.redirect_target = None
                    source.redirect_streak = 0
                    source.etag = None
                    source.last_modified = None
                    if source.next_due == GONE_DUE:
                        source.next_due = None
                source.kind = spec.kind
                source.location = spec.location
                source.category = spec.category
                source.interval_seconds = spec.interval_seconds
            return source.id

    @staticmethod
    def _free_source_slug(session: Session, base: str) -> str:
        slug, n = base, 1
        while session.scalar(select(models.Source.id).where(models.Source.slug == slug)):
            n += 1
            slug = f"{base}-{n}"
        return slug

    def record_fetch(
        self, source_id: int, *, error: str | None, when: datetime | None = None
    ) -> None:
        """Note the outcome of one fetch of a source and when it is due next."""
        when = when or _now()
        with self._sessions.begin() as session:
            source = session.get_one(models.Source, source_id)
            source.last_fetch = when
            if error is None:
                source.last_success = when
                source.last_error = None
                source.consecutive_errors = 0
            else:
                source.last_error = error
                source.consecutive_errors += 1
            source.next_due = when + timedelta(
                seconds=jittered(source.interval_seconds, source.id, when)
            )
            source.claimed_by = None
            source.lease_until = None

    def next_due(self, names: Sequence[str]) -> datetime | None:
        """When the first of these sources is due next (one indexed query)."""
        s = models.Source
        with self.engine.connect() as connection:
            return connection.execute(
                select(func.min(s.next_due)).where(s.name.in_(list(names)), s.gone.is_(False))
            ).scalar()

    def claim_due(
        self,
        owner: str,
        names: Sequence[str],
        *,
        now: datetime | None = None,
        lease_seconds: int = 300,
        limit: int | None = None,
    ) -> list[str]:
        """Claim the sources among `names` that are due and not claimed by a live lease.

        Returns the names claimed, oldest due first. On PostgreSQL the rows are picked
        with `FOR UPDATE SKIP LOCKED`, so daemons claiming at the same moment never get
        the same source; on SQLite writers are serialized by the database itself. A claim
        ends when the fetch is recorded, or when its lease runs out (the daemon died).
        """
        if not names:
            return []
        now = now or _now()
        s = models.Source
        if self.engine.dialect.name == "postgresql":
            # One array parameter: the same SQL text whatever the number of names, so
            # the statement is not rendered anew for each claim (thousands of names).
            among = s.name == any_(
                bindparam("names", list(names), type_=postgresql.ARRAY(_SOURCES.c.name.type))
            )
        else:
            among = s.name.in_(list(names))
        due = (
            select(s.id)
            .where(
                among,
                s.gone.is_(False),
                or_(s.next_due.is_(None), s.next_due <= now),
                or_(s.lease_until.is_(None), s.lease_until < now),
            )
            .order_by(s.next_due.asc().nulls_first(), s.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(s)
            .where(s.id.in_(due.scalar_subquery()))
            .values(claimed_by=owner, lease_until=now + timedelta(seconds=lease_seconds))
            .returning(s.name, s.next_due)
        )
        with self.engine.begin() as connection:
            rows = connection.execute(claim).all()
        never = datetime.min.replace(tzinfo=UTC)
        return [name for name, _ in sorted(rows, key=lambda r: (r[1] or never, r[0]))]

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

    def release_claims(self, owner: str) -> int:
        """Give back every claim of `owner` (a daemon shutting down); returns how many."""
        s = models.Source
        with self.engine.begin() as connection:
            result = connection.execute(
                update(s).where(s.claimed_by == owner).values(claimed_by=None, lease_until=None)
            )
            return int(result.rowcount or 0)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold a database-wide lock named `name` (PostgreSQL advisory lock; a no-op on
        SQLite, where one daemon per database is enforced by a file lock).

        Daemons sharing one PostgreSQL store build the feeds under it, so two processes
        never write the same files at once.
        """
        if self.engine.dialect.name != "postgresql":
            yield
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()

    def source_states(self) -> list[SourceState]:
        counts = (
            select(models.Article.source_id, func.count().label("n"))
            .group_by(models.Article.source_id)
            .subquery()
        )
        query = (
            select(models.Source, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.source_id == models.Source.id)
            .order_by(models.Source.name)
        )
        with self._sessions() as session:
            return [
                SourceState(
                    name=s.name,
                    slug=s.slug,
                    kind=s.kind,
                    location=s.location,
                    category=s.category,
                    article_count=int(n),
                    last_fetch=s.last_fetch,
                    last_success=s.last_success,
                    last_error=s.last_error,
                    consecutive_errors=s.consecutive_errors,
                    next_due=s.next_due,
                    gone=bool(s.gone),
                    bozo=s.bozo,
                    last_status=s.last_status,
                    last_outcome=s.last_outcome,
                    retry_after=s.retry_after,
                    fetch_url=s.fetch_url,
                    url_history=tuple(s.url_history or ()),
                )
                for s, n in session.execute(query)
            ]

    # -- remote sources ------------------------------------------------------------------

    def fetch_state(self, source_id: int) -> FetchState:
        """The URL and validators the next fetch of a remote source uses."""
        with self.engine.connect() as connection:
            row = connection.execute(_FETCH_BY_ID, {"id": source_id}).one()
        return _fetch_state(row)

    def prepare_fetch(self, spec: SourceSpec) -> FetchState:
        """`ensure_source` and `fetch_state` in one read when the source is already stored
        as `spec` says (every poll but the first): a poll that ends in 304 then costs
        this read and the one write of `record_fetch_outcome`."""
        with self.engine.connect() as connection:
            row = connection.execute(_FETCH_BY_NAME, {"name": spec.name}).first()
        if row is not None and (
            row.kind,
            row.location,
            row.category,
            row.interval_seconds,
        ) == (spec.kind, spec.location, spec.category, spec.interval_seconds):
            return _fetch_state(row)
        return self.fetch_state(self.ensure_source(spec))

    def record_fetch_outcome(
        self,
        source_id: int,
        outcome: FetchOutcome,
        *,
        when: datetime | None = None,
        state: FetchState | None = None,
    ) -> datetime:
        """Note how one fetch of a remote source ended and schedule the next; returns it.

        Success resets the error count and polls again after the interval (or the server's
        longer lower bound, at most 24 h). Network errors and server errors back off
        exponentially up to 24 h, never disabling the source. Retry-After postpones (at
        most 7 days) without counting as an error. 410 marks the source gone.

        `state`, the `FetchState` this fetch started from, lets a success with no redirect
        to confirm (the common case, and every 304) be one UPDATE without a read.
        """
        when = when or _now()
        if (
            state is not None
            and state.source_id == source_id
            and outcome.kind in (FetchKind.OK, FetchKind.NOT_MODIFIED)
            and outcome.permanent_redirect in (None, state.url)
        ):
            due = self._record_success(state, outcome, when)
            if due is not None:
                return due
        with self._sessions.begin() as session:
            source = session.get_one(models.Source, source_id)
            source.last_fetch = when
            source.last_status = outcome.status
            source.last_outcome = outcome.kind.value
            interval = source.interval_seconds
            if outcome.new_validators:
                if outcome.kind is FetchKind.OK:
                    source.etag = outcome.etag
                    source.last_modified = outcome.last_modified
                else:
                    source.etag = outcome.etag or source.etag
                    source.last_modified = outcome.last_modified or source.last_modified
            if outcome.kind in (FetchKind.OK, FetchKind.NOT_MODIFIED):
                self._note_redirect(source, outcome.permanent_redirect)
                source.last_success = when
                source.last_error = None
                source.consecutive_errors = 0
                source.retry_after = None
                if outcome.kind is FetchKind.OK:
                    source.bozo = outcome.bozo
                if outcome.min_interval is not None:
                    source.min_interval_seconds = min(outcome.min_interval, MIN_INTERVAL_CAP)
                floor = source.min_interval_seconds or 0
                wait = max(interval, floor)
                source.next_due = when + timedelta(seconds=jittered(wait, source.id, when))
            elif outcome.kind is FetchKind.GONE:
                source.gone = True
                source.last_error = outcome.error
                source.next_due = GONE_DUE
            elif outcome.kind is FetchKind.THROTTLED:
                source.last_error = outcome.error
                until = outcome.retry_after or when
                until = min(until, when + timedelta(seconds=RETRY_AFTER_CAP))
                source.retry_after = until
                source.next_due = max(until, when + timedelta(seconds=interval))
            else:
                source.last_error = outcome.error
                count = outcome.count_error
                if count is None:
                    count = not (
                        outcome.kind is FetchKind.NETWORK
                        and self._network_seems_down(session, source.id, when)
                    )
                if count:
                    source.consecutive_errors += 1
                delay = backoff_seconds(interval, source.consecutive_errors, source.id)
                source.next_due = when + timedelta(seconds=delay)
            source.claimed_by = None
            source.lease_until = None
            assert source.next_due is not None
            return source.next_due

    def _record_success(
        self, state: FetchState, outcome: FetchOutcome, when: datetime
    ) -> datetime | None:
        """What the ORM path of `record_fetch_outcome` does for a success without a
        redirect, as one UPDATE (None if the source is gone from the table)."""
        values: dict[str, Any] = {
            "last_fetch": when,
            "last_status": outcome.status,
            "last_outcome": outcome.kind.value,
            "last_success": when,
            "last_error": None,
            "consecutive_errors": 0,
            "retry_after": None,
            "claimed_by": None,
            "lease_until": None,
        }
        if state.redirect_target is not None:
            values.update(redirect_target=None, redirect_streak=0)
        if outcome.new_validators:
            if outcome.kind is FetchKind.OK:
                values.update(etag=outcome.etag, last_modified=outcome.last_modified)
            else:  # a 304 replaces only the validators it carries
                if outcome.etag:
                    values["etag"] = outcome.etag
                if outcome.last_modified:
                    values["last_modified"] = outcome.last_modified
        if outcome.kind is FetchKind.OK:
            values["bozo"] = outcome.bozo
        floor = state.min_interval_seconds or 0
        if outcome.min_interval is not None:
            floor = min(outcome.min_interval, MIN_INTERVAL_CAP)
            values["min_interval_seconds"] = floor
        wait = max(state.interval_seconds, floor)
        due = when + timedelta(seconds=jittered(wait, state.source_id, when))
        values["next_due"] = due
        with self.engine.begin() as connection:
            params = {f"v_{key}": value for key, value in values.items()}
            params["id_"] = state.source_id
            result = connection.execute(_success_update(values), params)
        return due if result.rowcount else None

    @staticmethod
    def _note_redirect(source: models.Source, target: str | None) -> None:
        """Adopt a permanent redirect only after it was seen on consecutive fetches."""
        current = source.fetch_url or source.location
        if target is None or target == current:
            source.redirect_target = None
            source.redirect_streak = 0
            return
        if source.redirect_target == target:
            source.redirect_streak += 1
        else:
            source.redirect_target = target
            source.redirect_streak = 1
        if source.redirect_streak >= REDIRECT_CONFIRMATIONS:
            history = list(source.url_history or [])
            if current not in history:
                history.append(current)
            source.url_history = history
            source.fetch_url = target
            source.redirect_target = None
            source.redirect_streak = 0

    @staticmethod
    def _network_seems_down(session: Session, source_id: int, when: datetime) -> bool:
        """Whether most remote sources fetched lately (this one included) failed at the
        network level: then the fault is probably ours, not theirs."""
        rows = session.execute(
            select(models.Source.id, models.Source.last_outcome).where(
                models.Source.kind.in_(REMOTE_KINDS),
                models.Source.gone.is_(False),
                models.Source.last_fetch >= when - NETWORK_DOWN_WINDOW,
            )
        ).all()
        outcomes = {sid: outcome for sid, outcome in rows}
        outcomes[source_id] = FetchKind.NETWORK.value
        if len(outcomes) < NETWORK_DOWN_MIN_SOURCES:
            return False
        failing = sum(1 for o in outcomes.values() if o == FetchKind.NETWORK.value)
        return failing * 2 > len(outcomes)

    def known_articles(
        self, source_id: int, guids: Sequence[str], urls: Sequence[str] = ()
    ) -> list[KnownArticle]:
        """Articles of the source with one of these guids or URLs."""
        found: dict[int, KnownArticle] = {}
        with self._sessions() as session:
            for column, values in ((models.Article.guid, guids), (models.Article.url, urls)):
                wanted = list(dict.fromkeys(v for v in values if v))
                for start in range(0, len(wanted), 500):
                    query = select(
                        models.Article.id,
                        models.Article.guid,
                        models.Article.url,
                        models.Article.published,
                    ).where(
                        models.Article.source_id == source_id,
                        column.in_(wanted[start : start + 500]),
                    )
                    for row in session.execute(query):
                        found[row.id] = KnownArticle(row.id, row.guid, row.url, row.published)
        return list(found.values())

    def mark_seen(self, source_id: int, guids: Sequence[str], when: datetime) -> None:
        """Note that the source still lists these articles."""
        with self._sessions.begin() as session:
            for start in range(0, len(guids), 500):
                session.execute(
                    update(models.Article)
                    .where(
                        models.Article.source_id == source_id,
                        models.Article.guid.in_(list(guids[start : start + 500])),
                    )
                    .values(last_seen_at=when)
                )

    def linked_guids(self, source_id: int, guids: Sequence[str]) -> set[str]:
        """Guids of this source that are stored as another source's article."""
        found: set[str] = set()
        with self._sessions() as session:
            for start in range(0, len(guids), 500):
                query = select(models.ArticleLink.guid).where(
                    models.ArticleLink.source_id == source_id,
                    models.ArticleLink.guid.in_(list(guids[start : start + 500])),
                )
                found.update(session.scalars(query))
        return found

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
        """An article of another source telling the same story: the same URL, or a
        nearly equal title and a similar lead within `window` (`db.dedup`). Its id."""
        leads = None if lead is None else [lead]
        return self.find_duplicates(
            source_id, [(url, title, published)], window=window, leads=leads
        )[0]

    def find_duplicates(
        self,
        source_id: int,
        candidates: Sequence[tuple[str | None, str, datetime]],
        *,
        window: timedelta,
        leads: Sequence[str] | None = None,
    ) -> list[int | None]:
        """`find_duplicate` for many (url, title, published) at once, in a few queries.

        For each candidate: the lowest id of another source's article with the same URL,
        else the lowest id of one published within `window` whose title has the same
        `dedup.title_key` and whose lead `dedup.same_story` finds similar to the
        candidate's (`leads`, one per candidate; without them only an exactly equal
        normalized title matches), else None. The title candidates come from one
        `(title_key, published)` index range read per 500 keys; the comparison is Python.
        """
        if not candidates:
            return []
        a = _ARTICLES.c
        by_url: dict[str, int] = {}
        by_key: dict[str, list[tuple[datetime, int, str, str]]] = {}
        keys = [dedup.title_key(title) for _, title, _ in candidates]
        urls = list(dict.fromkeys(url for url, _, _ in candidates if url))
        dates = [published for _, _, published in candidates]
        low, high = min(dates) - window, max(dates) + window
        chars = dedup.LEAD_CHARS
        with self.engine.connect() as connection:
            for chunk in _chunks(urls):
                query = select(a.id, a.url).where(a.source_id != source_id, a.url.in_(chunk))
                for article_id, url in connection.execute(query):
                    if url not in by_url or article_id < by_url[url]:
                        by_url[url] = article_id
            for chunk in _chunks(list(dict.fromkeys(keys))):
                query = select(
                    a.id,
                    a.title_key,
                    a.title,
                    a.published,
                    func.substr(a.summary, 1, chars),
                    func.substr(a.content_text, 1, chars),
                ).where(
                    a.source_id != source_id,
                    a.title_key.in_(chunk),
                    a.published >= low,
                    a.published <= high,
                )
                for row in connection.execute(query):
                    lead = dedup.lead_of(row[4] or "", row[5] or "")
                    by_key.setdefault(row[1], []).append((row[3], row[0], row[2], lead))
        found: list[int | None] = []
        for index, ((url, title, published), key) in enumerate(zip(candidates, keys, strict=True)):
            if url and url in by_url:
                found.append(by_url[url])
                continue
            lead = leads[index] if leads is not None else ""
            ids = [
                article_id
                for when, article_id, other_title, other_lead in by_key.get(key, ())
                if published - window <= when <= published + window
                and dedup.same_story(title, lead, other_title, other_lead)
            ]
            found.append(min(ids) if ids else None)
        return found

    def link_article(
        self,
        source_id: int,
        guid: str,
        article_id: int,
        when: datetime,
        url: str | None = None,
    ) -> None:
        """Record that this source's entry `guid` (at `url`) is the stored article
        `article_id`. A new link bumps the article's `linked_sources`, which is part of the
        feeds' change stamps: the feeds showing it are rebuilt to name the new source."""
        with self._sessions.begin() as session:
            known = session.get(models.ArticleLink, (source_id, guid))
            session.merge(
                models.ArticleLink(
                    source_id=source_id, guid=guid, article_id=article_id, linked_at=when, url=url
                )
            )
            if known is None or known.article_id != article_id or known.url != url:
                session.execute(
                    update(models.Article)
                    .where(models.Article.id == article_id)
                    .values(linked_sources=models.Article.linked_sources + 1)
                )

    def article_sources(self, article_id: int) -> list[str]:
        """Names of every source that carries the article: its own, then linked ones."""
        with self._sessions() as session:
            own = session.scalar(
                select(models.Source.name)
                .join(models.Article, models.Article.source_id == models.Source.id)
                .where(models.Article.id == article_id)
            )
            linked = session.scalars(
                select(models.Source.name)
                .join(models.ArticleLink, models.ArticleLink.source_id == models.Source.id)
                .where(models.ArticleLink.article_id == article_id)
                .order_by(models.Source.name)
            )
            return ([own] if own else []) + [n for n in linked if n != own]

    # -- files ---------------------------------------------------------------------------

    def file_fingerprints(self, source_id: int) -> dict[str, FileFingerprint]:
        """What the source remembers of each of its files, by guid."""
        # Core, not ORM: an unchanged re-ingest of a big folder is mostly this read, and
        # ORM objects (identity map, instrumentation) cost several times the query.
        fp = _FINGERPRINTS.c
        query = select(fp.guid, fp.mtime_ns, fp.size, fp.content_hash).where(
            fp.source_id == source_id
        )
        with self.engine.connect() as connection:
            return {
                guid: FileFingerprint(guid, mtime_ns, size, digest)
                for guid, mtime_ns, size, digest in connection.execute(query)
            }

    def save_fingerprints(self, source_id: int, prints: Iterable[FileFingerprint]) -> None:
        """Remember files whose article was stored (or that were unchanged)."""
        # The last fingerprint of a guid wins, as it would row by row; one statement per
        # guid also keeps PostgreSQL from seeing the same conflict twice in one command.
        rows = {
            fp.guid: {
                "source_id": source_id,
                "guid": fp.guid,
                "mtime_ns": fp.mtime_ns,
                "size": fp.size,
                "content_hash": fp.content_hash,
            }
            for fp in prints
        }
        if not rows:
            return
        with self.engine.begin() as connection:
            statement = _dialect_insert(connection, _FINGERPRINTS)
            statement = statement.on_conflict_do_update(
                index_elements=[_FINGERPRINTS.c.source_id, _FINGERPRINTS.c.guid],
                set_={
                    "mtime_ns": statement.excluded.mtime_ns,
                    "size": statement.excluded.size,
                    "content_hash": statement.excluded.content_hash,
                },
            )
            connection.execute(statement, list(rows.values()))

    # -- articles ------------------------------------------------------------------------

    def upsert_articles(
        self,
        source_id: int,
        drafts: Sequence[ArticleDraft],
        *,
        cap: EditCap | None = None,
        now: datetime | None = None,
    ) -> UpsertSummary:
        """Insert new drafts, update changed ones, leave identical ones untouched.

        With `cap` (remote sources), a draft whose hash changed but whose reader-visible
        content did not (`db.dedup.visible_digest`) is left untouched, and an article
        takes at most `cap.edits` edits per `cap.window` (see `EditCap`). `now` is the
        clock of the ingest (default: the real one).

        Two writers storing the same new article at once (two daemons, a CLI ingest
        beside the daemon) collide on the unique (source, guid): the loser's transaction
        is rolled back whole and run again, and then finds the winner's row as stored.
        """
        for attempt in range(UPSERT_ATTEMPTS):
            try:
                return self._upsert_articles(source_id, drafts, cap, now)
            except IntegrityError:
                if attempt == UPSERT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _upsert_articles(
        self,
        source_id: int,
        drafts: Sequence[ArticleDraft],
        cap: EditCap | None = None,
        when: datetime | None = None,
    ) -> UpsertSummary:
        """Insert new drafts, update changed ones, leave identical ones untouched.

        An edited article keeps its `uid` and `published`; its `updated` moves forward.
        The whole batch is one transaction: it is stored entirely or not at all.

        Written with Core statements, a handful per batch whatever its size (one read of
        the batch's stored versions, one per label table, one multi-row insert of the new
        articles, one executemany update of the changed ones, and their tag rows): the
        ORM's unit of work cost more than the SQL itself.
        """
        summary = UpsertSummary()
        if not drafts:
            return summary
        now = when or _now()
        a = _ARTICLES.c
        with self.engine.begin() as connection:
            existing: dict[str, _Version] = {}
            for chunk in _chunks(list(dict.fromkeys(d.guid for d in drafts))):
                query = select(
                    a.guid,
                    a.id,
                    a.content_hash,
                    a.published,
                    a.updated,
                    a.visible_hash,
                    a.edit_count,
                    a.edit_window_start,
                ).where(a.source_id == source_id, a.guid.in_(chunk))
                for guid, *version in connection.execute(query):
                    existing[guid] = _Version(*version)
            plans = _plan(drafts, existing, now, summary, cap)
            if not plans:
                return summary
            categories = _label_ids(
                connection,
                _CATEGORIES,
                [p.draft.category for p in plans if p.draft.category is not None],
            )
            tags = _label_ids(connection, _TAGS, [t for p in plans for t in p.draft.tags])
            signed = [author_labels(p.draft.authors) for p in plans]
            spelled: dict[str, str] = {}  # a new author is named as first met
            for labels in signed:
                for author_slug, name in labels.items():
                    spelled.setdefault(author_slug, name)
            authors = _ids_by_slug(connection, _AUTHORS, spelled)
            new = [p for p in plans if p.article_id is None]
            changed = [p for p in plans if p.article_id is not None]
            if new:
                slugs = _unique_slugs(connection, new, categories, source_id)
                page_paths = pages.mint_page_paths(
                    connection, [(slug, p.published) for p, slug in zip(new, slugs, strict=True)]
                )
                rows = [
                    {
                        **_article_values(p, categories),
                        "slug": slug,
                        "uid": f"urn:uuid:{uuid.uuid4()}",
                        "source_id": source_id,
                        "guid": p.draft.guid,
                        "published": p.published,
                        "ingested": now,
                        "page_path": page_path,
                    }
                    for p, slug, page_path in zip(new, slugs, page_paths, strict=True)
                ]
                inserted = connection.execute(
                    _ARTICLES.insert().returning(a.id, a.guid, sort_by_parameter_order=True), rows
                )
                for plan, row in zip(new, inserted, strict=True):
                    plan.article_id = row.id
            if changed:
                connection.execute(
                    update(_ARTICLES).where(a.id == bindparam("b_id")),
                    # The slug was minted once, at first storage, like a permalink: an
                    # edited title does not move it.
                    [
                        {**_article_values(p, categories, slug=False), "b_id": p.article_id}
                        for p in changed
                    ],
                )
                for chunk in _chunks([p.article_id for p in changed]):
                    connection.execute(
                        delete(_ARTICLE_TAGS).where(_ARTICLE_TAGS.c.article_id.in_(chunk))
                    )
                    connection.execute(
                        delete(_ARTICLE_AUTHORS).where(_ARTICLE_AUTHORS.c.article_id.in_(chunk))
                    )
            links = [
                {"article_id": p.article_id, "tag_id": tag_id, "published": p.published}
                for p in plans
                for tag_id in dict.fromkeys(tags[label_slug(t)] for t in p.draft.tags if t.strip())
            ]
            if links:
                connection.execute(_ARTICLE_TAGS.insert(), links)
            bylines = [
                {"article_id": p.article_id, "author_id": authors[slug], "published": p.published}
                for p, labels in zip(plans, signed, strict=True)
                for slug in labels
            ]
            if bylines:
                connection.execute(_ARTICLE_AUTHORS.insert(), bylines)
            summary.article_ids = [p.article_id for p in plans if p.article_id is not None]
            # Same transaction: an article is never stored without its index entry and
            # its topic memberships (see `db.search`).
            _after_write(connection, plans, summary, replace=bool(changed))
        return summary

    def prune(
        self,
        *,
        older_than: datetime | None = None,
        keep_per_source: int | None = None,
        protect: Collection[int] = (),
    ) -> int:
        """Delete articles published before `older_than`, or beyond the newest
        `keep_per_source` of their source, except the ids in `protect` (what the published
        feeds still show). Returns how many went; tags, topic links and the search index
        follow by cascade."""
        a = models.Article
        ranked = select(
            a.id,
            a.published,
            func.row_number()
            .over(partition_by=a.source_id, order_by=(a.published.desc(), a.id.desc()))
            .label("rank"),
        ).subquery()
        conditions: list[ColumnElement[bool]] = []
        if older_than is not None:
            conditions.append(ranked.c.published < older_than)
        if keep_per_source:
            conditions.append(ranked.c.rank > keep_per_source)
        if not conditions:
            return 0
        protected = set(protect)
        deleted = 0
        with self.engine.begin() as connection:
            doomed = [
                i
                for i in connection.execute(select(ranked.c.id).where(or_(*conditions))).scalars()
                if i not in protected
            ]
            for start in range(0, len(doomed), 500):
                chunk = doomed[start : start + 500]
                deleted += int(connection.execute(delete(a).where(a.id.in_(chunk))).rowcount or 0)
        return deleted

    def optimize(self) -> None:
        """Routine maintenance: SQLite's `PRAGMA optimize` (PostgreSQL has autovacuum)."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.begin() as connection:
                connection.exec_driver_sql("PRAGMA optimize")

    def stamp_reader(self) -> AbstractContextManager[StampReader]:
        """Cheap (id, content hash, updated) reads of what each feed holds, on one connection."""
        return stamp_reader(self.engine)

    def page_stamps(self) -> tuple[list[pages.PageStamp], pages.PageLabels]:
        """Every article's page stamp (oldest first) and its labels (`db.pages`), read on
        one connection so they agree."""
        with self.engine.connect() as connection:
            return pages.page_stamps(connection), pages.page_labels(connection)

    def article_count(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(models.Article)) or 0)

    def latest_articles(
        self,
        limit: int,
        *,
        category: str | None = None,
        source: str | None = None,
        tag: str | None = None,
        topic: str | None = None,
        author: str | None = None,
    ) -> list[StoredArticle]:
        """The newest `limit` articles, optionally of one category, source, tag, topic or
        author (by slug).

        Order is published descending with the id as tie-break, so it is stable.
        """
        with self.engine.connect() as connection:
            ids = latest_ids(
                connection,
                limit,
                category=category,
                source=source,
                tag=tag,
                topic=topic,
                author=author,
            )
            found = _load_articles(connection, ids)
        return [found[i] for i in ids if i in found]

    def articles_by_ids(self, ids: Iterable[int]) -> dict[int, StoredArticle]:
        """The stored articles with these ids (those that still exist), by id.

        For a build that already knows each feed's ids from its stamps: every article is
        in several feeds (root, category, source, tags), so loading the union once and
        slicing it per feed reads each article once instead of four or five times.
        """
        wanted = list(dict.fromkeys(ids))
        with self.engine.connect() as connection:
            return _load_articles(connection, wanted)

    def oldest_articles(
        self,
        limit: int,
        *,
        offset: int = 0,
        after: tuple[datetime, int] | None = None,
        category: str | None = None,
        source: str | None = None,
        tag: str | None = None,
        topic: str | None = None,
        author: str | None = None,
    ) -> list[StoredArticle]:
        """`limit` articles oldest first (published, then id), optionally of one section.

        `offset` skips that many from the oldest; `after` = (published, id) of the last
        article a previous call returned starts right after it instead (a keyset read:
        an index walk that begins where the previous one stopped, so reading page after
        page costs the same at any depth). For feed archives, which are written one page
        at a time so that no build ever holds a whole feed's history in memory.
        """
        mode = "offset" if after is None else "after"
        section = section_filter(category, source, tag, topic, author)
        return self._paged(mode, limit, offset, after, section)

    def articles_before(
        self,
        limit: int,
        before: tuple[datetime, int],
        *,
        category: str | None = None,
        source: str | None = None,
        tag: str | None = None,
        topic: str | None = None,
        author: str | None = None,
    ) -> list[StoredArticle]:
        """The `limit` articles just older than `before` = (published, id), newest first.

        The keyset read backwards: given the oldest article of one archive page, the
        previous page, at the same cost at any depth of the history.
        """
        section = section_filter(category, source, tag, topic, author)
        return self._paged("before", limit, 0, before, section)

    def _paged(
        self,
        mode: str,
        limit: int,
        offset: int,
        key: tuple[datetime, int] | None,
        filtered: tuple[str, str | None],
    ) -> list[StoredArticle]:
        section, slug = filtered
        params: dict[str, object] = {"limit": limit, "offset": offset}
        if slug is not None:
            params["slug"] = slug
        if key is not None:
            params["key_published"], params["key_id"] = key
        with self.engine.connect() as connection:
            ids = [row[0] for row in connection.execute(_PAGED_IDS[(section, mode)], params)]
            found = _load_articles(connection, ids)
        return [found[i] for i in ids if i in found]

    def section_counts(self, *, authors: bool = True) -> dict[tuple[str, str], int]:
        """How many articles the store and each of its sections hold, in six grouped COUNTs.

        Keyed by the `latest_articles` filter and its slug: `("category", slug)`,
        `("source", slug)`, `("tag", slug)`, `("topic", slug)`, `("author", slug)`, and
        `("", "")` for the whole store (authors only when `authors`: a build without
        author feeds need not scan their table). Far
        cheaper than reading any article: a build tells from it which archive pages exist.
        """
        a = _ARTICLES.c
        grouped = (
            (
                "category",
                select(_CATEGORIES.c.slug, func.count(a.id))
                .join(_ARTICLES, a.category_id == _CATEGORIES.c.id)
                .group_by(_CATEGORIES.c.slug),
            ),
            (
                "source",
                select(_SOURCES.c.slug, func.count(a.id))
                .join(_ARTICLES, a.source_id == _SOURCES.c.id)
                .group_by(_SOURCES.c.slug),
            ),
            (
                "tag",
                select(_TAGS.c.slug, func.count(_ARTICLE_TAGS.c.article_id))
                .join(_ARTICLE_TAGS, _ARTICLE_TAGS.c.tag_id == _TAGS.c.id)
                .group_by(_TAGS.c.slug),
            ),
            (
                "topic",
                select(_TOPIC_ARTICLES.c.topic_slug, func.count()).group_by(
                    _TOPIC_ARTICLES.c.topic_slug
                ),
            ),
            (
                "author",
                select(_AUTHORS.c.slug, func.count(_ARTICLE_AUTHORS.c.article_id))
                .join(_ARTICLE_AUTHORS, _ARTICLE_AUTHORS.c.author_id == _AUTHORS.c.id)
                .group_by(_AUTHORS.c.slug),
            ),
        )
        counts: dict[tuple[str, str], int] = {}
        with self.engine.connect() as connection:
            counts[("", "")] = int(connection.scalar(select(func.count(a.id))) or 0)
            for key, query in grouped:
                if key == "author" and not authors:
                    continue
                for slug, count in connection.execute(query):
                    counts[(key, str(slug))] = int(count)
        return counts

    def categories(self) -> list[Label]:
        """Categories that have at least one article, by slug."""
        # Core rows, not ORM objects: every build asks, and the session cost more than
        # the query.
        query = (
            select(_CATEGORIES.c.name, _CATEGORIES.c.slug)
            .where(
                select(models.Article.id)
                .where(models.Article.category_id == _CATEGORIES.c.id)
                .exists()
            )
            .order_by(_CATEGORIES.c.slug)
        )
        with self.engine.connect() as connection:
            return [Label(name, slug) for name, slug in connection.execute(query)]

    def sources_with_articles(self) -> list[Label]:
        """Sources with at least one article, their own or linked (a story another source
        brought first is listed in both sources' feeds), by slug."""
        query = (  # Core rows, like `categories`
            select(_SOURCES.c.name, _SOURCES.c.slug)
            .where(
                or_(
                    select(models.Article.id)
                    .where(models.Article.source_id == _SOURCES.c.id)
                    .exists(),
                    select(models.ArticleLink.guid)
                    .where(models.ArticleLink.source_id == _SOURCES.c.id)
                    .exists(),
                )
            )
            .order_by(_SOURCES.c.slug)
        )
        with self.engine.connect() as connection:
            return [Label(name, slug) for name, slug in connection.execute(query)]

    def tags(self, min_articles: int = 1) -> list[Label]:
        """Tags used by at least `min_articles` articles, by slug.

        Every build asks (`feeds.sections.plan_feeds`): a probe of
        `ix_article_tags_tag_published` per tag that stops at its `min_articles`-th row,
        instead of counting every tag's rows (a GROUP BY over all of `article_tags`,
        a fifth of a no-change build with 10,000 articles).
        """
        used = (
            select(_ARTICLE_TAGS.c.article_id)
            .where(_ARTICLE_TAGS.c.tag_id == _TAGS.c.id)
            .limit(1)
            .offset(max(min_articles, 1) - 1)
            .exists()
        )
        query = select(_TAGS.c.name, _TAGS.c.slug).where(used).order_by(_TAGS.c.slug)
        with self.engine.connect() as connection:
            return [Label(name, slug) for name, slug in connection.execute(query)]

    def authors(self, min_articles: int = 1) -> list[Label]:
        """Authors signing at least `min_articles` articles, by slug (for author feeds)."""
        query = (
            select(_AUTHORS.c.name, _AUTHORS.c.slug)
            .join(_ARTICLE_AUTHORS, _ARTICLE_AUTHORS.c.author_id == _AUTHORS.c.id)
            .group_by(_AUTHORS.c.id, _AUTHORS.c.name, _AUTHORS.c.slug)
            .having(func.count() >= min_articles)
            .order_by(_AUTHORS.c.slug)
        )
        with self.engine.connect() as connection:
            return [Label(name, slug) for name, slug in connection.execute(query)]

    # -- search and topics (logic in db.search) -------------------------------------------

    def search(
        self,
        query: str,
        *,
        source: str | None = None,
        category: str | None = None,
        since: datetime | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        """Articles matching `query` (see `db.search`), best first; raises QueryError."""
        return search.run_search(
            self.engine,
            query,
            search.Filters(
                sources=(source,) if source else (),
                categories=(category,) if category else (),
                since=since,
            ),
            limit,
            _load_articles,
        )

    def latest_article_id(self) -> int:
        """The highest article id (0 when empty): a cheap "something new arrived" stamp."""
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.max(_ARTICLES.c.id))) or 0)

    def sync_topics(self, topics: Sequence[TopicDef]) -> list[str]:
        """Make the stored topics those configured; returns the slugs back-filled (new or
        edited definitions). Unchanged topics cost one read."""
        with self.engine.begin() as connection:
            return search.sync_topics(connection, topics)

    def topics(self) -> list[TopicInfo]:
        """The stored (configured) topics, by slug."""
        with self.engine.connect() as connection:
            return search.topic_infos(connection)

    def match_topics(self, article_ids: Sequence[int]) -> set[str]:
        """Re-evaluate these articles against every stored topic; returns the topics whose
        membership changed. `upsert_articles` already does this for what it writes."""
        with self.engine.begin() as connection:
            return search.match_topics(connection, search.load_topics(connection), article_ids)

    def delete_source_articles(self, source_id: int, guids: Iterable[str]) -> int:
        """Remove the given articles of a source; returns how many went."""
        guid_list = list(guids)
        if not guid_list:
            return 0
        with self._sessions.begin() as session:
            result = session.execute(
                delete(models.Article).where(
                    models.Article.source_id == source_id, models.Article.guid.in_(guid_list)
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class _Version:
    """The stored version of an article, as an upsert compares drafts with it."""

    id: int
    content_hash: str
    published: datetime
    updated: datetime
    visible_hash: str | None = None
    edit_count: int = 0
    edit_window_start: datetime | None = None


@dataclass(frozen=True, slots=True)
class EditCap:
    """How often a remote article may change: at most `edits` edits per `window`.

    The window starts at the first edit after the previous window ended. An edit beyond
    the cap is not stored: the article stays as it was, and the next fetch after the
    window ends stores whatever the entry then says (an upstream that edits an article
    every few minutes is read at most `edits` times a day, and its last version is never
    lost as long as the entry is still listed). Each deferred edit is counted in
    `UpsertSummary.deferred`.
    """

    edits: int = 12
    window: timedelta = timedelta(hours=24)


@dataclass(slots=True)
class _Plan:
    """What a batch will write for one guid: the last draft seen for it and its dates."""

    draft: ArticleDraft
    digest: str
    article_id: int | None  # None: a new article
    published: datetime
    updated: datetime
    edit_count: int = 0
    edit_window_start: datetime | None = None


def _admit_edit(
    row: _Version, draft: ArticleDraft, now: datetime, cap: EditCap, summary: UpsertSummary
) -> tuple[int, datetime | None] | None:
    """The edit counters after storing this edit of `row`, or None when it must not be
    stored: nothing a reader sees changed (hash churn), or the cap is reached."""
    if row.visible_hash is not None and row.visible_hash == dedup.visible_digest(draft):
        summary.churn += 1
        return None
    count, start = row.edit_count, row.edit_window_start
    if start is None or now - start >= cap.window:
        count, start = 0, now
    if count >= cap.edits:
        summary.deferred += 1
        return None
    return count + 1, start


def _plan(
    drafts: Sequence[ArticleDraft],
    existing: dict[str, _Version],
    now: datetime,
    summary: UpsertSummary,
    cap: EditCap | None = None,
) -> list[_Plan]:
    """Decide new / changed / same for each draft, in order, as if stored one by one (a
    guid repeated in a batch is stored once, with its last version). With `cap`, an
    edit that only churns the hash or that is over the cap is SAME (`_admit_edit`)."""
    plans: dict[str, _Plan] = {}
    for draft in drafts:
        digest = content_hash(draft)
        plan = plans.get(draft.guid)
        row = existing.get(draft.guid)
        if plan is None and row is not None and row.content_hash == digest:
            summary.add(UpsertOutcome.SAME)
            continue
        if plan is not None and plan.digest == digest:
            summary.add(UpsertOutcome.SAME)
            continue
        if plan is None and row is None:
            plan = _Plan(draft, digest, None, draft.published, draft.updated or draft.published)
            plans[draft.guid] = plan
            summary.add(UpsertOutcome.NEW)
        else:
            if plan is None:
                assert row is not None
                counters = (row.edit_count, row.edit_window_start)
                if cap is not None:
                    admitted = _admit_edit(row, draft, now, cap, summary)
                    if admitted is None:
                        summary.add(UpsertOutcome.SAME)
                        continue
                    counters = admitted
                plan = _Plan(draft, digest, row.id, row.published, row.updated, *counters)
                plans[draft.guid] = plan
            # Any change must move `updated` forward, or readers never see the edit; the
            # source's own date is used only when it does.
            if draft.updated is not None and draft.updated > plan.updated:
                plan.updated = draft.updated
            else:
                plan.updated = max(now, plan.updated)
            plan.draft, plan.digest = draft, digest
            summary.add(UpsertOutcome.CHANGED)
        if draft.category is not None and draft.category.strip():
            summary.changed_sections.add(f"categoria/{label_slug(draft.category)}")
    return list(plans.values())


def _after_write(
    connection: Connection, plans: Sequence[_Plan], summary: UpsertSummary, *, replace: bool
) -> None:
    """Index what an upsert wrote and match it against the topics."""
    search.index_articles(
        connection,
        [
            search.IndexRow(
                article_id=p.article_id,
                title=p.draft.title,
                summary=p.draft.summary,
                body=p.draft.content_text,
                authors=p.draft.authors,
                tags=p.draft.tags,
            )
            for p in plans
            if p.article_id is not None
        ],
        replace=replace,
    )
    topics = search.load_topics(connection)
    if topics:
        summary.changed_topics |= search.match_topics(connection, topics, summary.article_ids)
        summary.changed_sections |= {f"tema/{slug}" for slug in summary.changed_topics}


def _category_id(draft: ArticleDraft, categories: dict[str, int]) -> int | None:
    category = draft.category
    return categories[label_slug(category)] if category is not None and category.strip() else None


def _unique_slugs(
    connection: Connection, plans: Sequence[_Plan], categories: dict[str, int], source_id: int
) -> list[str]:
    """A slug for each new article, unique within its section (its category, else its
    source): a taken `slug` becomes `slug-2`, `slug-3`... Equality probes on the
    (section, slug) indexes: one query per section for the bases, and for the bases that
    are taken one more for their next `SLUG_PROBE` numbered forms (rarely more)."""
    a = _ARTICLES.c
    keys = [_category_id(p.draft, categories) for p in plans]
    taken: dict[int | None, set[str]] = {}
    for key in dict.fromkeys(keys):
        section = (
            a.category_id == key
            if key is not None
            else (a.category_id.is_(None) & (a.source_id == source_id))
        )

        def probe(candidates: Iterable[str], section: ColumnElement[bool] = section) -> set[str]:
            found: set[str] = set()
            for chunk in _chunks(sorted(candidates)):
                query = select(a.slug).where(section, a.slug.in_(chunk))
                found |= set(connection.execute(query).scalars())
            return found

        bases = {
            p.draft.slug for p, k in zip(plans, keys, strict=True) if k == key and p.draft.slug
        }
        found = probe(bases)
        pending, start = set(found), 2
        while pending:
            numbered = probe(f"{b}-{n}" for b in pending for n in range(start, start + SLUG_PROBE))
            found |= numbered
            # A base whose whole window is taken needs the next window.
            pending = {
                b
                for b in pending
                if all(f"{b}-{n}" in numbered for n in range(start, start + SLUG_PROBE))
            }
            start += SLUG_PROBE
        taken[key] = found
    slugs = []
    for plan, key in zip(plans, keys, strict=True):
        base = slug = plan.draft.slug
        number = 1
        while slug and slug in taken[key]:
            number += 1
            slug = f"{base}-{number}"
        taken[key].add(slug)
        slugs.append(slug)
    return slugs


def _article_values(
    plan: _Plan, categories: dict[str, int], *, slug: bool = True
) -> dict[str, Any]:
    """The columns an insert and an update of this plan both write (an update keeps the
    stored slug)."""
    draft = plan.draft
    values = {
        "url": draft.url,
        "title": draft.title,
        "summary": draft.summary,
        "content_html": draft.content_html,
        "content_text": draft.content_text,
        "authors": list(draft.authors),
        "category_id": _category_id(draft, categories),
        "updated": plan.updated,
        "language": draft.language,
        "image_url": draft.image_url,
        "content_hash": plan.digest,
        "title_key": dedup.title_key(draft.title),
        "visible_hash": dedup.visible_digest(draft),
        "edit_count": plan.edit_count,
        "edit_window_start": plan.edit_window_start,
    }
    if slug:
        values["slug"] = draft.slug
    return values


def _label_ids(connection: Connection, table: Table, names: Iterable[str]) -> dict[str, int]:
    """Ids of these categories or tags by slug, creating the missing ones.

    A blank name is no label. A new label takes the first name given for its slug. One
    `slug IN (...)` read, and an insert only when some are new; `ON CONFLICT DO NOTHING`
    lets a concurrent writer create the same label first (PostgreSQL, several daemons).
    """
    wanted: dict[str, str] = {}
    for name in names:
        if name.strip():
            wanted.setdefault(label_slug(name), name.strip())
    return _ids_by_slug(connection, table, wanted)


def _ids_by_slug(connection: Connection, table: Table, wanted: dict[str, str]) -> dict[str, int]:
    """Ids of the labels of `table` with these slugs ({slug: name}), creating the missing
    ones under the name given."""
    found: dict[str, int] = {}

    def read(slugs: Sequence[str]) -> None:
        for chunk in _chunks(slugs):
            query = select(table.c.slug, table.c.id).where(table.c.slug.in_(chunk))
            found.update((slug, label_id) for slug, label_id in connection.execute(query))

    read(list(wanted))
    missing = [slug for slug in wanted if slug not in found]
    if missing:
        statement = _dialect_insert(connection, table).on_conflict_do_nothing(
            index_elements=[table.c.slug]
        )
        connection.execute(statement, [{"name": wanted[s], "slug": s} for s in missing])
        read(missing)
    return found


_ARTICLE_READ = (
    select(
        _ARTICLES.c.id,
        _ARTICLES.c.uid,
        _SOURCES.c.name.label("source_name"),
        _SOURCES.c.slug.label("source_slug"),
        _ARTICLES.c.guid,
        _ARTICLES.c.title,
        _ARTICLES.c.summary,
        _ARTICLES.c.content_html,
        _ARTICLES.c.content_text,
        _ARTICLES.c.published,
        _ARTICLES.c.updated,
        _ARTICLES.c.ingested,
        _ARTICLES.c.url,
        _ARTICLES.c.authors,
        _CATEGORIES.c.name.label("category_name"),
        _CATEGORIES.c.slug.label("category_slug"),
        _ARTICLES.c.language,
        _ARTICLES.c.slug,
        _ARTICLES.c.image_url,
        _ARTICLES.c.linked_sources,
        _ARTICLES.c.page_path,
    )
    .join(_SOURCES, _SOURCES.c.id == _ARTICLES.c.source_id)
    .outerjoin(_CATEGORIES, _CATEGORIES.c.id == _ARTICLES.c.category_id)
)
_TAG_READ = (
    select(_ARTICLE_TAGS.c.article_id, _TAGS.c.name, _TAGS.c.slug)
    .join(_TAGS, _TAGS.c.id == _ARTICLE_TAGS.c.tag_id)
    .order_by(_ARTICLE_TAGS.c.article_id, _TAGS.c.slug)
)


def _paged_statements() -> dict[tuple[str, str], Select[Any]]:
    """Ids of one section in (published, id) order, by (filter, mode).

    Modes: `offset` (oldest first, skipping `offset`), `after` (oldest first, after a
    (published, id) key) and `before` (newest first, before a key). The same index walks
    as the stamps (`db.stamps`): `ix_articles_published`, `ix_articles_category_published`,
    `ix_articles_source_published`, and for a tag `ix_article_tags_tag_published` (whose
    `published` copies the article's; likewise `ix_topic_articles_topic_published` and
    `ix_article_authors_author_published`); a key is a range start on the index, so a keyset
    read costs the same at any depth. Built once: constructing statements costs more than
    running these.
    """
    a, at, ta, aa = _ARTICLES.c, _ARTICLE_TAGS.c, _TOPIC_ARTICLES.c, _ARTICLE_AUTHORS.c
    slug: BindParameter[str] = bindparam("slug")
    key = tuple_(bindparam("key_published", type_=UTCDateTime()), bindparam("key_id"))
    bases: dict[str, tuple[Select[Any], ColumnElement[Any], ColumnElement[Any]]] = {
        "": (select(a.id), a.published, a.id),
        "category": (
            select(a.id)
            .join(_CATEGORIES, _CATEGORIES.c.id == a.category_id)
            .where(_CATEGORIES.c.slug == slug),
            a.published,
            a.id,
        ),
        "source": (
            select(a.id)
            .join(_SOURCES, _SOURCES.c.id == a.source_id)
            .where(_SOURCES.c.slug == slug),
            a.published,
            a.id,
        ),
        "tag": (
            select(at.article_id).where(
                at.tag_id == select(_TAGS.c.id).where(_TAGS.c.slug == slug).scalar_subquery()
            ),
            at.published,
            at.article_id,
        ),
        "topic": (select(ta.article_id).where(ta.topic_slug == slug), ta.published, ta.article_id),
        "author": (
            select(aa.article_id).where(
                aa.author_id
                == select(_AUTHORS.c.id).where(_AUTHORS.c.slug == slug).scalar_subquery()
            ),
            aa.published,
            aa.article_id,
        ),
    }
    statements: dict[tuple[str, str], Select[Any]] = {}
    for section, (base, published, ident) in bases.items():
        row = tuple_(published, ident)
        ascending = (published.asc(), ident.asc())
        descending = (published.desc(), ident.desc())
        for mode, query, order in (
            ("offset", base, ascending),
            ("after", base.where(row > key), ascending),
            ("before", base.where(row < key), descending),
        ):
            statements[(section, mode)] = (
                query.order_by(*order).limit(bindparam("limit")).offset(bindparam("offset"))
            )
    return statements


_PAGED_IDS = _paged_statements()


_LINKS = cast(Table, models.ArticleLink.__table__)
_ALSO_READ = (
    select(_LINKS.c.article_id, _SOURCES.c.name, _SOURCES.c.slug, _LINKS.c.url)
    .join(_SOURCES, _SOURCES.c.id == _LINKS.c.source_id)
    .order_by(_LINKS.c.article_id, _SOURCES.c.slug)
)


def _also_on(connection: Connection, rows: Sequence[Any]) -> dict[int, tuple[SourceRef, ...]]:
    """The other sources carrying these article rows, read only for those that have any
    (`linked_sources`), so a build over unlinked articles costs no extra query."""
    linked = [row.id for row in rows if row.linked_sources]
    found: dict[int, list[SourceRef]] = {}
    if linked:
        for article_id, name, slug, url in connection.execute(
            _ALSO_READ.where(_LINKS.c.article_id.in_(linked))
        ):
            found.setdefault(article_id, []).append(SourceRef(name, slug, url))
    return {article_id: tuple(refs) for article_id, refs in found.items()}


def _load_articles(connection: Connection, ids: Sequence[int]) -> dict[int, StoredArticle]:
    """Articles by id, two queries per 500 ids (three when some were linked from other
    sources), straight from rows to records (Core: the ORM's identity map and lazy-load
    machinery cost more than the rows themselves)."""
    found: dict[int, StoredArticle] = {}
    for chunk in _chunks(ids):
        tags: dict[int, list[Label]] = {}
        for article_id, name, slug in connection.execute(
            _TAG_READ.where(_ARTICLE_TAGS.c.article_id.in_(chunk))
        ):
            tags.setdefault(article_id, []).append(Label(name, slug))
        rows = connection.execute(_ARTICLE_READ.where(_ARTICLES.c.id.in_(chunk))).all()
        also = _also_on(connection, rows)
        for row in rows:
            found[row.id] = StoredArticle(
                id=row.id,
                uid=row.uid,
                source_name=row.source_name,
                source_slug=row.source_slug,
                guid=row.guid,
                title=row.title,
                summary=row.summary,
                content_html=row.content_html,
                content_text=row.content_text,
                published=row.published,
                updated=row.updated,
                ingested=row.ingested,
                url=row.url,
                authors=tuple(row.authors or ()),
                category=(
                    Label(row.category_name, row.category_slug)
                    if row.category_slug is not None
                    else None
                ),
                tags=tuple(tags.get(row.id, ())),
                language=row.language,
                slug=row.slug,
                image_url=row.image_url,
                also_on=also.get(row.id, ()),
                page_path=row.page_path or "",
            )
    return found
