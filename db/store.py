"""Store functions: upsert articles, remember files and fetches, and read the latest articles.

Every public method opens and closes its own session and returns dataclasses from
`db.records`, so callers never hold ORM rows or sessions.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from slugify import slugify
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from db import models
from db.engine import display_url, make_engine
from db.errors import StoreError
from db.migrate import upgrade
from db.records import (
    ArticleDraft,
    FileFingerprint,
    Label,
    SourceSpec,
    SourceState,
    StoredArticle,
    UpsertOutcome,
    UpsertSummary,
)


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
                )
                for s, n in session.execute(query)
            ]

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
