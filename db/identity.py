"""Article identity across fetches and sources: which stored articles a source's entries
are, which entries are linked to another source's article, and finding the article of
another source that tells the same story (the rules are `db.dedup`'s).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select, update

from db import dedup, revisions
from db.records import KnownArticle
from db.tables import ARTICLES, LINKS, SOURCES, chunks, dialect_insert

DuplicateCandidate = tuple[str | None, str, datetime]
"""(url, title, published) of an entry that may be another source's article."""


def known_articles(
    engine: Engine, source_id: int, guids: Sequence[str], urls: Sequence[str] = ()
) -> list[KnownArticle]:
    """Articles of the source with one of these guids or URLs."""
    a = ARTICLES.c
    found: dict[int, KnownArticle] = {}
    with engine.connect() as connection:
        for column, values in ((a.guid, guids), (a.url, urls)):
            for chunk in chunks(list(dict.fromkeys(v for v in values if v))):
                query = select(a.id, a.guid, a.url, a.published).where(
                    a.source_id == source_id, column.in_(chunk)
                )
                for row in connection.execute(query):
                    found[row.id] = KnownArticle(row.id, row.guid, row.url, row.published)
    return list(found.values())


def mark_seen(connection: Connection, source_id: int, guids: Sequence[str], when: datetime) -> None:
    """Note that the source still lists these articles, in the caller's transaction (an
    upsert batch's, `db.upsert`)."""
    a = ARTICLES.c
    for chunk in chunks(list(guids)):
        connection.execute(
            update(ARTICLES)
            .where(a.source_id == source_id, a.guid.in_(chunk))
            .values(last_seen_at=when)
        )


def linked_guids(engine: Engine, source_id: int, guids: Sequence[str]) -> set[str]:
    """Guids of this source that are stored as another source's article."""
    found: set[str] = set()
    with engine.connect() as connection:
        for chunk in chunks(list(guids)):
            query = select(LINKS.c.guid).where(
                LINKS.c.source_id == source_id, LINKS.c.guid.in_(chunk)
            )
            found.update(connection.execute(query).scalars())
    return found


def find_duplicates(
    engine: Engine,
    source_id: int,
    candidates: Sequence[DuplicateCandidate],
    *,
    window: timedelta,
    leads: Sequence[str] | None = None,
    title_keys: Sequence[str] | None = None,
) -> list[int | None]:
    """For each (url, title, published): the article of another source telling the same
    story, or None.

    That is the lowest id of another source's article with the same URL, else the
    lowest id of one published within `window` whose title has the same
    `dedup.title_key` and whose lead `dedup.same_story` finds similar to the candidate's
    (`leads`, one per candidate; without them only an exactly equal normalized title
    matches). `title_keys`, one per candidate, are their titles' `dedup.title_key` where
    the caller has them (a draft carries its own, `db.draft_keys`); else they are
    computed here. The title candidates come from one `(title_key, published)` index
    range read per chunk of keys; the comparison is Python.
    """
    if not candidates:
        return []
    keys = (
        list(title_keys)
        if title_keys is not None
        else [dedup.title_key(title) for _, title, _ in candidates]
    )
    urls = list(dict.fromkeys(url for url, _, _ in candidates if url))
    dates = [published for _, _, published in candidates]
    with engine.connect() as connection:
        by_url = _by_url(connection, source_id, urls)
        by_key = _by_title_key(
            connection, source_id, keys, min(dates) - window, max(dates) + window
        )
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


def _by_url(connection: Connection, source_id: int, urls: Sequence[str]) -> dict[str, int]:
    """The lowest id of another source's article at each of these URLs."""
    a = ARTICLES.c
    by_url: dict[str, int] = {}
    for chunk in chunks(urls):
        query = select(a.id, a.url).where(a.source_id != source_id, a.url.in_(chunk))
        for article_id, url in connection.execute(query):
            if url not in by_url or article_id < by_url[url]:
                by_url[url] = article_id
    return by_url


def _by_title_key(
    connection: Connection, source_id: int, keys: Sequence[str], low: datetime, high: datetime
) -> dict[str, list[tuple[datetime, int, str, str]]]:
    """Other sources' articles published in [low, high] with one of these title keys, as
    (published, id, title, lead) by key."""
    a = ARTICLES.c
    chars = dedup.LEAD_CHARS
    by_key: dict[str, list[tuple[datetime, int, str, str]]] = {}
    for chunk in chunks(list(dict.fromkeys(keys))):
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
    return by_key


def link_article(
    engine: Engine,
    source_id: int,
    guid: str,
    article_id: int,
    when: datetime,
    url: str | None = None,
) -> None:
    """Record that this source's entry `guid` (at `url`) is the stored article
    `article_id`. A new link bumps the article's `linked_sources`, which is part of the
    feeds' change stamps: the feeds showing it are rebuilt to name the new source; the
    links revision rises with it, for the page builds (`db.pages.PageMark`)."""
    link = LINKS.c
    values = {"article_id": article_id, "linked_at": when, "url": url}
    with engine.begin() as connection:
        known = connection.execute(
            select(link.article_id, link.url).where(link.source_id == source_id, link.guid == guid)
        ).first()
        statement = dialect_insert(connection, LINKS).values(
            source_id=source_id, guid=guid, **values
        )
        connection.execute(
            statement.on_conflict_do_update(index_elements=[link.source_id, link.guid], set_=values)
        )
        if known is None or known.article_id != article_id or known.url != url:
            connection.execute(
                update(ARTICLES)
                .where(ARTICLES.c.id == article_id)
                .values(linked_sources=ARTICLES.c.linked_sources + 1)
            )
            revisions.bump(connection, revisions.LINKS)


def article_sources(engine: Engine, article_id: int) -> list[str]:
    """Names of every source that carries the article: its own, then linked ones."""
    with engine.connect() as connection:
        own = connection.scalar(
            select(SOURCES.c.name)
            .join(ARTICLES, ARTICLES.c.source_id == SOURCES.c.id)
            .where(ARTICLES.c.id == article_id)
        )
        linked = connection.scalars(
            select(SOURCES.c.name)
            .join(LINKS, LINKS.c.source_id == SOURCES.c.id)
            .where(LINKS.c.article_id == article_id)
            .order_by(SOURCES.c.name)
        )
        return ([own] if own else []) + [n for n in linked if n != own]
