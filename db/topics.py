"""Topic feeds: configured searches whose members are kept in `topic_articles`.

A topic's definition is stored with a digest, so a new or edited topic is back-filled
once (its newest matches), and each upsert matches only the articles it wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    Select,
    String,
    bindparam,
    delete,
    insert,
    literal_column,
    select,
    update,
)

from db import revisions
from db.analysis import words
from db.driver import DialectKind, DriverCursor, DriverStatement, compile_statement
from db.labels import label_slug
from db.query import ParsedQuery, Term, parse_query
from db.records import TopicDef, TopicInfo
from db.search import FTS, Filters, matching
from db.tables import ARTICLES, TOPIC_ARTICLES, TOPICS, chunks, insert_tuples


@dataclass(frozen=True, slots=True)
class StoredTopic:
    """A topic as matching needs it: its query with the exclusions folded in, its filters."""

    slug: str
    parsed: ParsedQuery
    filters: Filters


def topic_digest(definition: dict[str, Any]) -> str:
    payload = json.dumps(definition, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


@lru_cache(maxsize=1024)
def stored_topic(slug: str, definition: str) -> StoredTopic:
    """A topic from its stored JSON definition (as `Store.sync_topics` wrote it)."""
    data = json.loads(definition)
    parsed = parse_query(data["query"])
    excluded = [Term(tuple(found)) for word in data.get("exclude", []) if (found := words(word))]
    return StoredTopic(
        slug,
        parsed.with_excluded(excluded),
        Filters(
            sources=tuple(data.get("sources", [])),
            categories=tuple(data.get("categories", [])),
            tags=tuple(data.get("tags", [])),
        ),
    )


def match_topics(
    connection: Connection, topics: Sequence[StoredTopic], article_ids: Sequence[int]
) -> set[str]:
    """Re-evaluate these articles against the topics; returns the slugs whose membership
    changed. Only these ids are looked at (an index lookup each), never the whole store."""
    changed: set[str] = set()
    ids = sorted(set(article_ids))
    if not topics or not ids:
        return changed
    ta = TOPIC_ARTICLES.c
    for chunk in chunks(ids):
        before: set[tuple[str, int]] = set(
            connection.execute(select(ta.topic_slug, ta.article_id).where(ta.article_id.in_(chunk)))
        )
        if not before and chunk[-1] - chunk[0] == len(chunk) - 1:
            # Articles in no topic yet, with consecutive ids (a batch of new articles):
            # each topic's members among them are inserted by the database itself, one
            # statement per topic, and no member row comes to Python and goes back.
            changed |= _insert_members(connection, topics, chunk[0], chunk[-1])
            continue
        # Ids only from each topic's query: no rank to compute (bm25 per match on SQLite)
        # and no date to convert per membership. The dates are read once per chunk as the
        # driver gives them and written back as they are: many topics over a batch make
        # many memberships, and converting each date both ways was a large share of it.
        published: dict[int, object] = {
            int(article_id): raw
            for article_id, raw in connection.execute(
                select(ARTICLES.c.id, literal_column("articles.published")).where(
                    ARTICLES.c.id.in_(chunk)
                )
            )
        }
        after: dict[tuple[str, int], object] = {}
        for topic in topics:
            for article_id in _members(connection, topic, chunk[0], chunk[-1]):
                if article_id in published:
                    after[(topic.slug, article_id)] = published[article_id]
        gone = before - set(after)
        for slug, article_id in gone:
            connection.execute(
                delete(TOPIC_ARTICLES).where(ta.topic_slug == slug, ta.article_id == article_id)
            )
        new = [
            (slug, article_id, when)
            for (slug, article_id), when in after.items()
            if (slug, article_id) not in before
        ]
        if new:
            # `published` goes back exactly as it was read, past SQLAlchemy's per-row
            # parameter handling, which costs more than SQLite's insert.
            insert_tuples(
                connection, TOPIC_ARTICLES, ("topic_slug", "article_id", "published"), new
            )
        changed |= {slug for slug, _ in gone} | {slug for slug, _ in after.keys() - before}
    return changed


@lru_cache(maxsize=1024)
def _member_query(topic: StoredTopic, kind: DialectKind, *, insert_them: bool) -> DriverStatement:
    """`topic`'s members with ids between `low` and `high`: their ids, or with `insert_them`
    an INSERT of their memberships. The ids in that range which an upsert did not write
    are dropped by the caller (the INSERT is run only on a range it wrote whole). On
    SQLite the range goes into FTS5's index walk (without it, each query read its words'
    postings for the whole store)."""
    a = ARTICLES.c
    dialect = kind.dialect
    between = FTS.c.rowid if dialect.name == "sqlite" else a.id
    members = (
        matching(dialect.name, topic.parsed, topic.filters)
        .with_only_columns(a.id)
        .where(between.between(bindparam("low", 0), bindparam("high", 0)))
    )
    statement: Select[Any] | Insert = members
    if insert_them:
        # `published` is copied by the database as stored, never converted.
        columns = members.with_only_columns(
            bindparam("topic_slug", topic.slug, type_=String), a.id, a.published
        )
        statement = insert(TOPIC_ARTICLES).from_select(
            ["topic_slug", "article_id", "published"], columns
        )
    return compile_statement(statement, dialect)


def _members(connection: Connection, topic: StoredTopic, low: int, high: int) -> list[int]:
    """The ids of `topic`'s members between `low` and `high`. Run on the driver's cursor in
    the connection's transaction: a batch runs every topic's query and reads every member,
    and SQLAlchemy's statement building and per-row handling cost several times the
    queries themselves."""
    query = _member_query(topic, DialectKind.of(connection.dialect), insert_them=False)
    with closing(DriverCursor(connection)) as cursor:
        return [int(row[0]) for row in cursor.rows(query, {"low": low, "high": high})]


def _insert_members(
    connection: Connection, topics: Sequence[StoredTopic], low: int, high: int
) -> set[str]:
    """Insert the memberships of the articles with ids from `low` to `high`, which must all
    have been written by this upsert and be in no topic yet; returns the slugs that got
    one. On the driver's cursor, as `_members`."""
    kind = DialectKind.of(connection.dialect)
    changed: set[str] = set()
    with closing(DriverCursor(connection)) as cursor, _membership_cache(connection):
        for topic in topics:
            query = _member_query(topic, kind, insert_them=True)
            if cursor.run(query, {"low": low, "high": high}):
                changed.add(topic.slug)
    return changed


MEMBERSHIP_CACHE_KIB = 16384
"""SQLite page cache while a batch's memberships are inserted (the default is 2 MiB)."""


@contextmanager
def _membership_cache(connection: Connection) -> Iterator[None]:
    """A larger SQLite page cache for the memberships of a batch, the previous size after.

    Fifty topics over a batch of new articles insert thousands of rows into
    `topic_articles` and its indexes, one topic after another, and with 2 MiB the index
    pages each topic touches were read back from the file for the next: the inserts took
    about half as long with 16 MiB, and `topic_match_overhead` fell from 1.21-1.24 to
    1.13-1.15 (2026-12-07). Setting the size back frees the extra pages at once, so a
    daemon's connections do not keep them."""
    raw = connection.connection.driver_connection if connection.dialect.name == "sqlite" else None
    if raw is None:
        yield
        return
    size = int(raw.execute("PRAGMA cache_size").fetchone()[0])
    raw.execute(f"PRAGMA cache_size = {-MEMBERSHIP_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {size}")


TOPIC_BACKFILL_LIMIT = 2000
"""Articles a new or edited topic is filled with (the newest): its feed shows far fewer."""


def backfill_topic(connection: Connection, topic: StoredTopic) -> int:
    """Fill a new or edited topic with its newest matches; returns how many. Stored
    articles join or leave it: the topics revision rises."""
    ta = TOPIC_ARTICLES.c
    revisions.bump(connection, revisions.TOPICS)
    connection.execute(delete(TOPIC_ARTICLES).where(ta.topic_slug == topic.slug))
    statement = matching(connection.dialect.name, topic.parsed, topic.filters)
    statement = statement.order_by(ARTICLES.c.published.desc(), ARTICLES.c.id.desc())
    rows = [
        {"topic_slug": topic.slug, "article_id": article_id, "published": published}
        for article_id, published, *_rank in connection.execute(
            statement.limit(TOPIC_BACKFILL_LIMIT)
        )
    ]
    if rows:
        connection.execute(insert(TOPIC_ARTICLES), rows)
    return len(rows)


def _definition(topic: TopicDef) -> dict[str, Any]:
    """What decides a topic's members (not its title): its digest says when to back-fill."""
    return {
        "query": topic.query,
        "exclude": list(topic.exclude),
        "sources": sorted({label_slug(s) for s in topic.sources}),
        "categories": sorted({label_slug(c) for c in topic.categories}),
        "tags": sorted({label_slug(t) for t in topic.tags}),
    }


def sync_topics(connection: Connection, topics: Sequence[TopicDef]) -> list[str]:
    t = TOPICS.c
    stored = {
        row.slug: tuple(row[1:])
        for row in connection.execute(select(t.slug, t.name, t.title, t.description, t.digest))
    }
    wanted = {topic.slug: topic for topic in topics}
    gone = [slug for slug in stored if slug not in wanted]
    if gone:
        connection.execute(delete(TOPICS).where(t.slug.in_(gone)))
        revisions.bump(connection, revisions.TOPICS)
    filled = []
    for topic in topics:
        definition = _definition(topic)
        digest = topic_digest(definition)
        values = {
            "name": topic.name,
            "title": topic.title,
            "description": topic.description,
            "definition": json.dumps(definition, ensure_ascii=False),
            "digest": digest,
        }
        before = stored.get(topic.slug)
        if before is None:
            connection.execute(insert(TOPICS).values(slug=topic.slug, **values))
        else:
            # Nothing written when nothing changed (a build must not take a write lock
            # for nothing); members are recomputed only when the definition changed.
            if before != (topic.name, topic.title, topic.description, digest):
                connection.execute(update(TOPICS).where(t.slug == topic.slug).values(**values))
            if before[3] == digest:
                continue
        backfill_topic(connection, stored_topic(topic.slug, values["definition"]))
        filled.append(topic.slug)
    return filled


def topic_infos(connection: Connection) -> list[TopicInfo]:
    t = TOPICS.c
    query = select(t.slug, t.name, t.title, t.description).order_by(t.slug)
    return [TopicInfo(*row) for row in connection.execute(query)]


def load_topics(connection: Connection) -> list[StoredTopic]:
    """Every stored topic, parsed (parsing is cached by definition)."""
    t = TOPICS.c
    return [
        stored_topic(slug, definition)
        for slug, definition in connection.execute(select(t.slug, t.definition))
    ]
