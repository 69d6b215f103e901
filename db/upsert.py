"""Storing a batch of article drafts: insert the new ones, update the changed ones,
leave identical ones untouched, with their labels, slugs, search index entries and
topic memberships, in one transaction.

What to write is decided by `db.upsert_plan`; this module reads the stored versions it
needs and writes the plan with Core statements, a handful per batch whatever its size
(one read of the batch's stored versions, one per label table, one multi-row insert of
the new articles, one executemany update of the changed ones, and their tag rows): the
ORM's unit of work cost more than the SQL itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from db import counters, identity, pages, revisions, search
from db.draft_keys import keys_of
from db.labels import author_labels, ids_by_slug, label_ids, label_slug
from db.records import DEFAULT_TIMEZONE, ArticleDraft, Section, UpsertSummary
from db.tables import (
    ARTICLE_AUTHORS,
    ARTICLE_TAGS,
    ARTICLES,
    AUTHORS,
    CATEGORIES,
    TAGS,
    chunks,
    insert_rows,
    insert_tuples,
    now,
)
from db.topics import load_topics, match_topics
from db.types import bind_datetime
from db.upsert_plan import EditCap, Plan, StoredVersion, plan_upserts

UPSERT_ATTEMPTS = 3
"""Tries of a batch that collides with a concurrent writer of the same new article."""
SLUG_PROBE = 50
"""Numbered forms of a taken slug (`slug-2`, `slug-3`...) probed per query."""


def upsert_articles(
    engine: Engine,
    source_id: int,
    drafts: Sequence[ArticleDraft],
    *,
    cap: EditCap | None = None,
    when: datetime | None = None,
    page_timezone: str = DEFAULT_TIMEZONE,
    seen: bool = False,
) -> UpsertSummary:
    """Insert new drafts, update changed ones, leave identical ones untouched.

    With `cap` (remote sources), a draft whose hash changed but whose reader-visible
    content did not (`db.dedup.visible_digest`) is left untouched, and an article
    takes at most `cap.edits` edits per `cap.window` (see `EditCap`). `when` is the
    clock of the ingest (default: the real one); new page addresses take their month in
    `page_timezone` (`db.pages`). With `seen`, every draft's article is noted as listed
    by the source at `when` (`db.identity.mark_seen`), in the same transaction: the
    rows this batch inserts or updates take it as they are written, so only the
    untouched ones need an update of their own. An edited article keeps its `uid`,
    `published` and slug; its `updated` moves forward. The whole batch is one
    transaction: it is stored entirely or not at all.

    Two writers storing the same new article at once (two daemons, a CLI ingest
    beside the daemon) collide on the unique (source, guid): the loser's transaction
    is rolled back whole and run again, and then finds the winner's row as stored.
    """
    for attempt in range(UPSERT_ATTEMPTS):
        try:
            return _upsert_once(
                engine, source_id, drafts, cap, when or now(), page_timezone, seen=seen
            )
        except IntegrityError:
            if attempt == UPSERT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _upsert_once(
    engine: Engine,
    source_id: int,
    drafts: Sequence[ArticleDraft],
    cap: EditCap | None,
    when: datetime,
    page_timezone: str,
    *,
    seen: bool,
) -> UpsertSummary:
    summary = UpsertSummary()
    if not drafts:
        return summary
    with engine.begin() as connection:
        existing = _stored_versions(connection, source_id, drafts)
        plans = plan_upserts(drafts, existing, when, summary, cap)
        if seen:
            written = {p.draft.guid for p in plans}
            untouched = [d.guid for d in drafts if d.guid not in written]
            identity.mark_seen(connection, source_id, untouched, when)
        if not plans:
            return summary
        categories = label_ids(
            connection,
            CATEGORIES,
            [p.draft.category for p in plans if p.draft.category is not None],
        )
        labels = _Labels.of(connection, plans)
        new = [p for p in plans if p.article_id is None]
        changed = [p for p in plans if p.article_id is not None]
        if new:
            _insert(connection, source_id, new, categories, when, page_timezone, seen=seen)
            counters.add(connection, source_id, when, stored=len(new))
        if changed:
            _update(connection, changed, categories, seen=when if seen else None)
        labels.write(connection, plans)
        summary.article_ids = [p.article_id for p in plans if p.article_id is not None]
        # Same transaction: an article is never stored without its index entry and
        # its topic memberships (see `db.search`).
        _after_write(connection, plans, summary, replace=bool(changed))
    return summary


def _stored_versions(
    connection: Connection, source_id: int, drafts: Sequence[ArticleDraft]
) -> dict[str, StoredVersion]:
    """The stored versions of the drafts' guids, by guid."""
    a = ARTICLES.c
    existing: dict[str, StoredVersion] = {}
    for chunk in chunks(list(dict.fromkeys(d.guid for d in drafts))):
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
            existing[guid] = StoredVersion(*version)
    return existing


def _insert(
    connection: Connection,
    source_id: int,
    new: Sequence[Plan],
    categories: dict[str, int],
    when: datetime,
    page_timezone: str,
    *,
    seen: bool,
) -> None:
    """Insert the new articles, minting their `uid`, unique slug and page address (and,
    with `seen`, noted as listed by the source at `when`); sets their ids."""
    a = ARTICLES.c
    slugs = _unique_slugs(connection, new, categories, source_id)
    page_paths = pages.mint_page_paths(
        connection,
        [(slug, p.published) for p, slug in zip(new, slugs, strict=True)],
        page_timezone,
    )
    rows = [
        {
            **_article_values(p, categories),
            "slug": slug,
            "uid": f"urn:uuid:{uuid.uuid4()}",
            "source_id": source_id,
            "guid": p.draft.guid,
            "published": p.published,
            "ingested": when,
            "page_path": page_path,
            **({"last_seen_at": when} if seen else {}),
        }
        for p, slug, page_path in zip(new, slugs, page_paths, strict=True)
    ]
    if connection.dialect.name != "sqlite":
        # PostgreSQL returns the ids of a multi-row INSERT in parameter order. A plain
        # executemany would run in psycopg's pipeline mode, which logs a warning of its
        # own when a concurrent writer's row makes the insert fail (the caller retries).
        inserted = connection.execute(
            ARTICLES.insert().returning(a.id, sort_by_parameter_order=True), rows
        )
        for plan, row in zip(new, inserted, strict=True):
            plan.article_id = row.id
        return
    # On SQLite a plain executemany, then the ids by guid in one read: SQLite has no ordered
    # multi-row `INSERT ... RETURNING`, so it would run one row per statement; and
    # (source, guid) is unique, so the read finds exactly the rows inserted.
    insert_rows(connection, ARTICLES, rows)
    ids: dict[str, int] = {}
    for chunk in chunks([p.draft.guid for p in new]):
        query = select(a.guid, a.id).where(a.source_id == source_id, a.guid.in_(chunk))
        ids.update((guid, article_id) for guid, article_id in connection.execute(query))
    for plan in new:
        plan.article_id = ids[plan.draft.guid]


def _update(
    connection: Connection,
    changed: Sequence[Plan],
    categories: dict[str, int],
    *,
    seen: datetime | None,
) -> None:
    """Update the changed articles (with `seen`, noted as listed by the source then) and
    drop their label rows (`_Labels.write` writes them anew); the edits revision rises
    with them, so a page build that follows only new articles (`feeds.pagemark`) sees
    that stored ones changed."""
    revisions.bump(connection, revisions.EDITS)
    also = {"last_seen_at": seen} if seen is not None else {}
    connection.execute(
        update(ARTICLES).where(ARTICLES.c.id == bindparam("b_id")),
        # The slug was minted once, at first storage, like a permalink: an edited title
        # does not move it.
        [
            {**_article_values(p, categories, slug=False), **also, "b_id": p.article_id}
            for p in changed
        ],
    )
    for chunk in chunks([p.article_id for p in changed]):
        connection.execute(delete(ARTICLE_TAGS).where(ARTICLE_TAGS.c.article_id.in_(chunk)))
        connection.execute(delete(ARTICLE_AUTHORS).where(ARTICLE_AUTHORS.c.article_id.in_(chunk)))


@dataclass(frozen=True, slots=True)
class _Labels:
    """The tag and author ids of a batch's plans (created where new), and each plan's
    authors as {slug: name}."""

    tags: dict[str, int]
    authors: dict[str, int]
    signed: list[dict[str, str]]

    @classmethod
    def of(cls, connection: Connection, plans: Sequence[Plan]) -> _Labels:
        tags = label_ids(connection, TAGS, [t for p in plans for t in p.draft.tags])
        signed = [author_labels(p.draft.authors) for p in plans]
        spelled: dict[str, str] = {}  # a new author is named as first met
        for labels in signed:
            for author_slug, name in labels.items():
                spelled.setdefault(author_slug, name)
        return cls(tags, ids_by_slug(connection, AUTHORS, spelled), signed)

    def write(self, connection: Connection, plans: Sequence[Plan]) -> None:
        """The tag and author rows of the written articles."""
        # Each article's date converted once for all its rows.
        bind = bind_datetime(connection.dialect)
        published = [bind(p.published) for p in plans]
        links = [
            (p.article_id, tag_id, date)
            for p, date in zip(plans, published, strict=True)
            for tag_id in dict.fromkeys(self.tags[label_slug(t)] for t in p.draft.tags if t.strip())
        ]
        if links:
            insert_tuples(connection, ARTICLE_TAGS, ("article_id", "tag_id", "published"), links)
        bylines = [
            (p.article_id, self.authors[slug], date)
            for p, labels, date in zip(plans, self.signed, published, strict=True)
            for slug in labels
        ]
        if bylines:
            insert_tuples(
                connection, ARTICLE_AUTHORS, ("article_id", "author_id", "published"), bylines
            )


def _after_write(
    connection: Connection, plans: Sequence[Plan], summary: UpsertSummary, *, replace: bool
) -> None:
    """Index what an upsert wrote and match it against the topics."""
    search.index_articles(
        connection,
        [(p.article_id, p.draft) for p in plans if p.article_id is not None],
        replace=replace,
    )
    topics = load_topics(connection)
    if topics:
        summary.changed_topics |= match_topics(connection, topics, summary.article_ids)
        summary.changed_sections |= {Section("topic", slug) for slug in summary.changed_topics}


def _category_id(draft: ArticleDraft, categories: dict[str, int]) -> int | None:
    category = draft.category
    return categories[label_slug(category)] if category is not None and category.strip() else None


def _unique_slugs(
    connection: Connection, plans: Sequence[Plan], categories: dict[str, int], source_id: int
) -> list[str]:
    """A slug for each new article, unique within its section (its category, else its
    source): a taken `slug` becomes `slug-2`, `slug-3`..."""
    keys = [_category_id(p.draft, categories) for p in plans]
    bases: dict[int | None, set[str]] = {key: set() for key in keys}
    for plan, key in zip(plans, keys, strict=True):
        if plan.draft.slug:
            bases[key].add(plan.draft.slug)
    taken = _taken_bases(connection, bases, source_id)
    for key, found in taken.items():
        found |= _taken_numbered(connection, _section(key, source_id), found)
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


def _section(category_id: int | None, source_id: int) -> ColumnElement[bool]:
    """The articles of a slug section: a category, else the source's uncategorised ones."""
    a = ARTICLES.c
    if category_id is not None:
        return a.category_id == category_id
    return a.category_id.is_(None) & (a.source_id == source_id)


def _probe(
    connection: Connection, section: ColumnElement[bool], candidates: Iterable[str]
) -> set[str]:
    """Which of `candidates` the section already uses (equality probes on its index)."""
    a = ARTICLES.c
    found: set[str] = set()
    for chunk in chunks(sorted(candidates)):
        found |= set(connection.execute(select(a.slug).where(section, a.slug.in_(chunk))).scalars())
    return found


def _taken_bases(
    connection: Connection, bases: dict[int | None, set[str]], source_id: int
) -> dict[int | None, set[str]]:
    """Which bases each section already uses: the categories' in one query on the
    (category, slug) index (a batch spans many categories), the source's own section in
    another."""
    a = ARTICLES.c
    taken: dict[int | None, set[str]] = {key: set() for key in bases}
    if None in bases:
        taken[None] = _probe(connection, _section(None, source_id), bases[None])
    categorised = sorted(key for key in bases if key is not None)
    wanted = sorted({slug for key in categorised for slug in bases[key]})
    for ids in chunks(categorised):
        for slugs in chunks(wanted):
            query = select(a.category_id, a.slug).where(a.category_id.in_(ids), a.slug.in_(slugs))
            for category_id, slug in connection.execute(query):
                if slug in bases[category_id]:
                    taken[category_id].add(slug)
    return taken


def _taken_numbered(
    connection: Connection, section: ColumnElement[bool], taken: set[str]
) -> set[str]:
    """Which numbered forms of the taken bases the section already uses: the next
    `SLUG_PROBE` of each per query (rarely more than one)."""
    found: set[str] = set()
    pending, start = set(taken), 2
    while pending:
        numbered = _probe(
            connection,
            section,
            (f"{b}-{n}" for b in pending for n in range(start, start + SLUG_PROBE)),
        )
        found |= numbered
        # A base whose whole window is taken needs the next window.
        pending = {
            b
            for b in pending
            if all(f"{b}-{n}" in numbered for n in range(start, start + SLUG_PROBE))
        }
        start += SLUG_PROBE
    return found


def _article_values(plan: Plan, categories: dict[str, int], *, slug: bool = True) -> dict[str, Any]:
    """The columns an insert and an update of this plan both write (an update keeps the
    stored slug)."""
    draft = plan.draft
    keys = keys_of(draft)
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
        "text_source": draft.text_source,
        "content_hash": plan.digest,
        "title_key": keys.title_key,
        "visible_hash": keys.visible_hash,
        "edit_count": plan.edit_count,
        "edit_window_start": plan.edit_window_start,
    }
    if slug:
        values["slug"] = draft.slug
    return values
