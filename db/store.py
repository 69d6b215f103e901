"""Store functions: upsert articles, remember files and fetches, and read the latest articles.

Every public method opens and closes its own session and returns dataclasses from
`db.records`, so callers never hold ORM rows or sessions.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from slugify import slugify
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from db import models
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
    SourceSpec,
    SourceState,
    StoredArticle,
    UpsertOutcome,
    UpsertSummary,
)
from db.stamps import StampReader, stamp_reader


def label_slug(name: str) -> str:
    """The URL slug of a category, tag or source name (`Attualità` → `attualita`)."""
    return slugify(name, lowercase=True, replacements=[["'", "-"], ["’", "-"]]) or "senza-nome"


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
        """Create the source or update its settings; returns its id."""
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
            source.next_due = when + timedelta(seconds=source.interval_seconds)

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
        with self._sessions() as session:
            source = session.get_one(models.Source, source_id)
            return FetchState(
                source_id=source.id,
                url=source.fetch_url or source.location,
                etag=source.etag,
                last_modified=source.last_modified,
                gone=bool(source.gone),
                consecutive_errors=source.consecutive_errors,
                interval_seconds=source.interval_seconds,
            )

    def record_fetch_outcome(
        self, source_id: int, outcome: FetchOutcome, *, when: datetime | None = None
    ) -> datetime:
        """Note how one fetch of a remote source ended and schedule the next; returns it.

        Success resets the error count and polls again after the interval (or the server's
        longer lower bound, at most 24 h). Network errors and server errors back off
        exponentially up to 24 h, never disabling the source. Retry-After postpones (at
        most 7 days) without counting as an error. 410 marks the source gone.
        """
        when = when or _now()
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
                source.next_due = when + timedelta(seconds=max(interval, floor))
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
            assert source.next_due is not None
            return source.next_due

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
    ) -> int | None:
        """An article of another source telling the same story: the same URL, or the
        same title published within `window`. Returns its id."""
        with self._sessions() as session:
            if url:
                found = session.scalar(
                    select(models.Article.id)
                    .where(models.Article.source_id != source_id, models.Article.url == url)
                    .order_by(models.Article.id)
                    .limit(1)
                )
                if found is not None:
                    return int(found)
            found = session.scalar(
                select(models.Article.id)
                .where(
                    models.Article.source_id != source_id,
                    models.Article.title == title,
                    models.Article.published >= published - window,
                    models.Article.published <= published + window,
                )
                .order_by(models.Article.id)
                .limit(1)
            )
            return None if found is None else int(found)

    def link_article(self, source_id: int, guid: str, article_id: int, when: datetime) -> None:
        """Record that this source's entry `guid` is the stored article `article_id`."""
        with self._sessions.begin() as session:
            session.merge(
                models.ArticleLink(
                    source_id=source_id, guid=guid, article_id=article_id, linked_at=when
                )
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
        query = select(models.FileFingerprint).where(models.FileFingerprint.source_id == source_id)
        with self._sessions() as session:
            return {
                row.guid: FileFingerprint(row.guid, row.mtime_ns, row.size, row.content_hash)
                for row in session.scalars(query)
            }

    def save_fingerprints(self, source_id: int, prints: Iterable[FileFingerprint]) -> None:
        """Remember files whose article was stored (or that were unchanged)."""
        with self._sessions.begin() as session:
            for fp in prints:
                session.merge(
                    models.FileFingerprint(
                        source_id=source_id,
                        guid=fp.guid,
                        mtime_ns=fp.mtime_ns,
                        size=fp.size,
                        content_hash=fp.content_hash,
                    )
                )

    # -- articles ------------------------------------------------------------------------

    def upsert_articles(self, source_id: int, drafts: Sequence[ArticleDraft]) -> UpsertSummary:
        """Insert new drafts, update changed ones, leave identical ones untouched.

        An edited article keeps its `uid` and `published`; its `updated` moves forward.
        The whole batch is one transaction: it is stored entirely or not at all.
        """
        summary = UpsertSummary()
        if not drafts:
            return summary
        now = _now()
        with self._sessions.begin() as session:
            guids = [d.guid for d in drafts]
            existing: dict[str, models.Article] = {}
            for chunk_start in range(0, len(guids), 500):
                chunk = guids[chunk_start : chunk_start + 500]
                rows = session.scalars(
                    select(models.Article)
                    .where(models.Article.source_id == source_id, models.Article.guid.in_(chunk))
                    .options(selectinload(models.Article.tags))
                )
                existing.update({row.guid: row for row in rows})
            labels = _LabelCache(session)
            for draft in drafts:
                digest = content_hash(draft)
                row = existing.get(draft.guid)
                if row is not None and row.content_hash == digest:
                    summary.add(UpsertOutcome.SAME)
                    continue
                category = labels.category(draft.category)
                tags = [labels.tag(t) for t in dict.fromkeys(draft.tags) if t.strip()]
                if row is None:
                    row = models.Article(
                        uid=f"urn:uuid:{uuid.uuid4()}",
                        source_id=source_id,
                        guid=draft.guid,
                        published=draft.published,
                        updated=draft.updated or draft.published,
                        ingested=now,
                    )
                    session.add(row)
                    existing[draft.guid] = row
                    outcome = UpsertOutcome.NEW
                else:
                    if category is not None and row.category_id != category.id:
                        summary.changed_sections.add(f"categoria/{category.slug}")
                    outcome = UpsertOutcome.CHANGED
                    # Any change must move `updated` forward, or readers never see the edit;
                    # the source's own date is used only when it does.
                    if draft.updated is not None and draft.updated > row.updated:
                        row.updated = draft.updated
                    else:
                        row.updated = max(now, row.updated)
                row.url = draft.url
                row.title = draft.title
                row.summary = draft.summary
                row.content_html = draft.content_html
                row.content_text = draft.content_text
                row.authors = list(draft.authors)
                row.category = category
                row.tags = tags
                row.language = draft.language
                row.slug = draft.slug
                row.image_url = draft.image_url
                row.content_hash = digest
                if category is not None:
                    summary.changed_sections.add(f"categoria/{category.slug}")
                summary.add(outcome)
        return summary

    def stamp_reader(self) -> AbstractContextManager[StampReader]:
        """Cheap (id, content hash, updated) reads of what each feed holds, on one connection."""
        return stamp_reader(self.engine)

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
    ) -> list[StoredArticle]:
        """The newest `limit` articles, optionally of one category, source or tag (by slug).

        Order is published descending with the id as tie-break, so it is stable.
        """
        query = select(models.Article)
        if category is not None:
            query = query.join(models.Article.category).where(models.Category.slug == category)
        if source is not None:
            query = query.join(models.Article.source).where(models.Source.slug == source)
        if tag is not None:
            tag_ids = (
                select(models.article_tags.c.article_id)
                .join(models.Tag, models.Tag.id == models.article_tags.c.tag_id)
                .where(models.Tag.slug == tag)
            )
            query = query.where(models.Article.id.in_(tag_ids))
        query = (
            query.order_by(models.Article.published.desc(), models.Article.id.desc())
            .limit(limit)
            .options(
                selectinload(models.Article.tags),
                selectinload(models.Article.category),
                selectinload(models.Article.source),
            )
        )
        with self._sessions() as session:
            return [_to_record(row) for row in session.scalars(query)]

    def categories(self) -> list[Label]:
        """Categories that have at least one article, by slug."""
        query = (
            select(models.Category)
            .where(
                select(models.Article.id)
                .where(models.Article.category_id == models.Category.id)
                .exists()
            )
            .order_by(models.Category.slug)
        )
        with self._sessions() as session:
            return [Label(c.name, c.slug) for c in session.scalars(query)]

    def sources_with_articles(self) -> list[Label]:
        query = (
            select(models.Source)
            .where(
                select(models.Article.id)
                .where(models.Article.source_id == models.Source.id)
                .exists()
            )
            .order_by(models.Source.slug)
        )
        with self._sessions() as session:
            return [Label(s.name, s.slug) for s in session.scalars(query)]

    def tags(self, min_articles: int = 1) -> list[Label]:
        """Tags used by at least `min_articles` articles, by slug."""
        query = (
            select(models.Tag)
            .join(models.article_tags, models.article_tags.c.tag_id == models.Tag.id)
            .group_by(models.Tag.id)
            .having(func.count() >= min_articles)
            .order_by(models.Tag.slug)
        )
        with self._sessions() as session:
            return [Label(t.name, t.slug) for t in session.scalars(query)]

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


class _LabelCache:
    """Get-or-create categories and tags by slug within one session."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._categories: dict[str, models.Category] = {}
        self._tags: dict[str, models.Tag] = {}

    def category(self, name: str | None) -> models.Category | None:
        if name is None or not name.strip():
            return None
        slug = label_slug(name)
        if slug not in self._categories:
            found = self._session.scalar(
                select(models.Category).where(models.Category.slug == slug)
            )
            if found is None:
                found = models.Category(name=name.strip(), slug=slug)
                self._session.add(found)
            self._categories[slug] = found
        return self._categories[slug]

    def tag(self, name: str) -> models.Tag:
        slug = label_slug(name)
        if slug not in self._tags:
            found = self._session.scalar(select(models.Tag).where(models.Tag.slug == slug))
            if found is None:
                found = models.Tag(name=name.strip(), slug=slug)
                self._session.add(found)
            self._tags[slug] = found
        return self._tags[slug]


def _to_record(row: models.Article) -> StoredArticle:
    return StoredArticle(
        id=row.id,
        uid=row.uid,
        source_name=row.source.name,
        source_slug=row.source.slug,
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
        category=Label(row.category.name, row.category.slug) if row.category else None,
        tags=tuple(Label(t.name, t.slug) for t in row.tags),
        language=row.language,
        slug=row.slug,
        image_url=row.image_url,
    )
