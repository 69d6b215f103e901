"""Full-text search of the stored articles on both databases: the index, matching,
ranking and snippets. The text analysis is `db.analysis`'s, the query language
`db.query`'s, topic feeds `db.topics`'.

Keeping the SQLite index in step
    Triggers cannot stem, so the FTS5 index (`unicode61 remove_diacritics 2`, a no-op on
    our analysed text that keeps any text reaching it by another path accent-insensitive)
    is written by `index_articles`, which `db.upsert` calls in its own transaction right
    after writing the rows (the only writer of article text): the article and its index
    entry commit or roll back together. Deletions need no Python, so a trigger on
    `articles` removes the index entry (it also fires for rows removed by
    `ON DELETE CASCADE` from a source).

PostgreSQL
    A `search_vector tsvector` column written by a trigger with the `rassegna_italian`
    text search configuration (a copy of `italian` that runs `unaccent` first when the
    extension can be installed), indexed by GIN. Tags live in another table, so statement
    triggers on `article_tags` touch the articles whose tags changed. Queries become a
    `to_tsquery` string of sanitised words, so PostgreSQL stems them its own way.

Ranking
    On SQLite a search ranks (bm25) only the newest `RANK_NEWEST` matches, inside the FTS5
    table, and joins only the hits it returns to `articles` (see `RANK_NEWEST` for why).

Snippets are cut in Python from the article's text, for the same output on both databases.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from itertools import islice
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    bindparam,
    column,
    delete,
    exists,
    func,
    literal_column,
    select,
    table,
    text,
)

from db.analysis import WORD, index_text, stem, words
from db.query import MAX_QUERY_CHARS, ParsedQuery, QueryError, fts5_query, parse_query, tsquery_text
from db.records import ArticleDraft, ArticleHeadline, SearchHit, StoredArticle, picked
from db.tables import (
    ARTICLE_TAGS,
    ARTICLES,
    CATEGORIES,
    SOURCES,
    TAGS,
    VISIBLE,
    chunks,
)

__all__ = [  # the query API, also reachable from here for the search's callers
    "MAX_QUERY_CHARS",
    "QueryError",
    "fts5_query",
    "index_text",
    "parse_query",
]

SNIPPET_OPEN = "**"
SNIPPET_CLOSE = "**"
PG_CONFIG = "rassegna_italian"
FTS_TABLE = "articles_fts"
FTS = table(FTS_TABLE, column("rowid"))


# -- the SQLite index ---------------------------------------------------------------------


def index_articles(
    connection: Connection, articles: Sequence[tuple[int, ArticleDraft]], *, replace: bool
) -> None:
    """Write the FTS5 entries of these (article id, the draft stored under it): their
    title, summary, text, authors and tags (SQLite; PostgreSQL's trigger does this).

    `replace` deletes any previous entry first (changed articles).
    """
    if connection.dialect.name != "sqlite" or not articles:
        return
    if replace:
        for chunk in chunks([article_id for article_id, _ in articles]):
            connection.execute(delete(FTS).where(FTS.c.rowid.in_(chunk)))
    # Straight to the driver's executemany, as tuples: the values are plain text and
    # integers with nothing for SQLAlchemy to convert, and its per-row parameter
    # processing cost more than building the rows.
    connection.exec_driver_sql(
        "INSERT INTO articles_fts(rowid, title, summary, body, authors, tags)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                article_id,
                index_text(d.title),
                index_text(d.summary),
                index_text(d.content_text),
                index_text(" ".join(d.authors)),
                index_text(" ".join(d.tags)),
            )
            for article_id, d in articles
        ],
    )


# -- matching -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search or topic keeps besides its text: source, category and tag slugs
    (any of each), and a lower bound on the publication date."""

    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    since: datetime | None = None


def matching(dialect: str, parsed: ParsedQuery, filters: Filters = Filters()) -> Select[Any]:
    """SELECT (id, published, rank) of the articles matching; lower rank is better."""
    a = ARTICLES.c
    rank: ColumnElement[Any]
    if dialect == "sqlite":
        # Title counts most, then summary, tags, authors, body.
        rank = literal_column(f"bm25({FTS_TABLE}, 10.0, 4.0, 1.0, 2.0, 3.0)")
        statement = (
            select(a.id, a.published, rank.label("rank"))
            .select_from(FTS.join(ARTICLES, a.id == FTS.c.rowid))
            .where(text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=fts5_query(parsed)))
        )
    else:
        query = func.to_tsquery(
            literal_column(f"'{PG_CONFIG}'::regconfig"),
            bindparam("ts_query", tsquery_text(parsed)),
        )
        vector: ColumnElement[Any] = literal_column("articles.search_vector")
        rank = -func.ts_rank_cd(vector, query)
        statement = select(a.id, a.published, rank.label("rank")).where(vector.op("@@")(query))
    if filters.sources:
        statement = statement.where(
            a.source_id.in_(select(SOURCES.c.id).where(SOURCES.c.slug.in_(filters.sources)))
        )
    if filters.categories:
        statement = statement.where(
            a.category_id.in_(
                select(CATEGORIES.c.id).where(CATEGORIES.c.slug.in_(filters.categories))
            )
        )
    if filters.tags:
        statement = statement.where(
            exists(
                select(ARTICLE_TAGS.c.article_id)
                .join(TAGS, TAGS.c.id == ARTICLE_TAGS.c.tag_id)
                .where(ARTICLE_TAGS.c.article_id == a.id, TAGS.c.slug.in_(filters.tags))
            )
        )
    if filters.since is not None:
        statement = statement.where(a.published >= filters.since)
    return statement


RANK_NEWEST = 2000
"""On SQLite, a search ranks at most this many matches: the newest stored (highest ids).

A choice, not an accident: bm25 has a cost per match (it reads each match's column
sizes and positions), so ranking every match of a word found in most of the archive
grows with the archive. A query with fewer matches is ranked whole; a more common one is
ranked among its newest RANK_NEWEST matches, which is where a reader of a press review
looks anyway (`since`, a source or a category narrow the set first, so older articles
stay reachable). bm25 still has a fixed cost per query that this does not bound: it
counts the articles holding each term, a walk of the term's whole list (`bench/README.md`
has the figures). PostgreSQL ranks every match."""


def _fts_filters(filters: Filters) -> list[ColumnElement[bool]]:
    """The filters as conditions on the FTS5 row id, each a set read from a covering index
    of `articles` (a row of `articles` holds the texts: reading its `category_id` or
    `published` would walk its overflow pages, per match).

    `+rowid`: a plain `rowid IN (...)` makes SQLite run the FTS5 query once per id of the
    set, which a large source makes unusable; the unary plus keeps it a filter on the
    scan."""
    a = ARTICLES.c
    rowid: ColumnElement[Any] = literal_column(f"+{FTS_TABLE}.rowid")
    sets: list[Select[Any]] = []
    if filters.sources:
        sources = select(SOURCES.c.id).where(SOURCES.c.slug.in_(filters.sources))
        sets.append(select(a.id).where(a.source_id.in_(sources)))
    if filters.categories:
        categories = select(CATEGORIES.c.id).where(CATEGORIES.c.slug.in_(filters.categories))
        sets.append(select(a.id).where(a.category_id.in_(categories)))
    if filters.since is not None:
        sets.append(select(a.id).where(a.published >= filters.since))
    if filters.tags:
        sets.append(
            select(ARTICLE_TAGS.c.article_id)
            .join(TAGS, TAGS.c.id == ARTICLE_TAGS.c.tag_id)
            .where(TAGS.c.slug.in_(filters.tags))
        )
    return [rowid.in_(ids) for ids in sets]


def _ranked_sqlite(
    connection: Connection, parsed: ParsedQuery, filters: Filters, limit: int, rank_newest: int
) -> list[tuple[int, float]]:
    """Rank inside the FTS5 table, join only the best `limit` rows to `articles`.

    The newest `rank_newest` matches (FTS5 walks its index by descending row id, no sort)
    are scored by bm25, the best `limit` kept, ties broken by id; only those are joined
    to `articles`, for the `published` order among equal ranks."""
    score: ColumnElement[Any] = literal_column(f"bm25({FTS_TABLE}, 10.0, 4.0, 1.0, 2.0, 3.0)")
    newest = (
        select(FTS.c.rowid.label("id"), score.label("score"))
        .where(text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=fts5_query(parsed)))
        .where(*_fts_filters(filters))
        .order_by(FTS.c.rowid.desc())
        .limit(rank_newest)
        .subquery("newest")
    )
    best = (
        select(newest.c.id, newest.c.score)
        .order_by(newest.c.score, newest.c.id.desc())
        .limit(limit)
        .subquery("best")
    )
    # Hidden articles (`rassegna rules apply`) leave here, after ranking: few are ever
    # hidden, and a condition inside the FTS5 walk would read `articles` per match.
    statement = (
        select(best.c.id, best.c.score)
        .join(ARTICLES, ARTICLES.c.id == best.c.id)
        .where(VISIBLE)
        .order_by(best.c.score, ARTICLES.c.published.desc(), best.c.id.desc())
    )
    return [(int(row[0]), float(row[1])) for row in connection.execute(statement)]


def ranked(
    connection: Connection,
    parsed: ParsedQuery,
    filters: Filters,
    limit: int,
    rank_newest: int = RANK_NEWEST,
) -> list[tuple[int, float]]:
    """(id, rank) of the best `limit` matches, best first, newest first among equals
    (on SQLite among the newest `rank_newest` matches: see `RANK_NEWEST`)."""
    if connection.dialect.name == "sqlite":
        return _ranked_sqlite(connection, parsed, filters, limit, rank_newest)
    statement = matching(connection.dialect.name, parsed, filters).where(VISIBLE)
    statement = statement.order_by(literal_column("rank"), ARTICLES.c.published.desc())
    return [
        (int(row[0]), float(row[2])) for row in connection.execute(statement.limit(limit)).all()
    ]


# -- snippets -----------------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def _token_stems(token: str) -> tuple[str, ...]:
    """The stems of one word of a text as written (one, or more if folding splits it)."""
    return tuple(stem(w) for w in words(token))


def snippet(value: str, parsed: ParsedQuery, *, width: int = 32) -> str:
    """About `width` words of `value` around the first match, matches between
    SNIPPET_OPEN and SNIPPET_CLOSE, `…` where the text was cut."""
    stems = {s for term in parsed.positive if not term.prefix for s in term.stems}
    prefixes = tuple(s for term in parsed.positive if term.prefix for s in term.stems)
    starts = prefixes or ("\x00",)
    # A snippet is cut from a whole article, often with no match in it at all (a title
    # match): the distinct words are analysed once each (`findall` and a set, in C), and
    # the text is walked only up to the end of the window.
    distinct = set(WORD.findall(value))
    if prefixes:
        hits = {
            token
            for token in distinct
            if any(s in stems or s.startswith(starts) for s in _token_stems(token))
        }
    else:  # the common case, as set operations in C
        hits = {token for token in distinct if not stems.isdisjoint(_token_stems(token))}
    tokens = WORD.finditer(value)
    before: deque[re.Match[str]] = deque(maxlen=width // 4)
    window: list[re.Match[str]] = []
    skipped = 0  # words left out before the window
    if hits:
        for seen, match in enumerate(tokens):
            if match.group(0) in hits:
                window = [*before, match]
                skipped = seen - len(before)
                break
            before.append(match)
    window += islice(tokens, width - len(window))
    if not window:
        return ""
    more = next(tokens, None) is not None
    out: list[str] = ["…"] if skipped else []
    cursor = window[0].start()
    for match in window:
        out.append(value[cursor : match.start()])
        token = match.group(0)
        out.append(SNIPPET_OPEN + token + SNIPPET_CLOSE if token in hits else token)
        cursor = match.end()
    if more:
        out.append("…")
    else:
        out.append(value[cursor:].rstrip())
    return " ".join("".join(out).split())


Loader = Callable[[Connection, Sequence[int]], dict[int, StoredArticle]]


_HIT_NAMES = tuple(f.name for f in fields(ArticleHeadline))
"""What a `SearchHit` shows of its stored article, as it is."""

MAX_RESULTS = 500
"""The most hits one search returns, whatever limit it asks for."""


def run_search(
    engine: Engine,
    query: str,
    filters: Filters,
    limit: int,
    load: Loader,
    *,
    rank_newest: int = RANK_NEWEST,
) -> list[SearchHit]:
    """Parse, rank (on SQLite among the newest `rank_newest` matches), load the hits and
    cut their snippets."""
    parsed = parse_query(query)
    limit = max(1, min(limit, MAX_RESULTS))
    with engine.connect() as connection:
        ranks = ranked(connection, parsed, filters, limit, rank_newest)
        articles = load(connection, [article_id for article_id, _ in ranks])
    hits = []
    for article_id, rank in ranks:
        article = articles.get(article_id)
        if article is None:
            continue
        body = article.summary
        if article.content_text:
            body = f"{body}\n{article.content_text}" if body else article.content_text
        hits.append(
            SearchHit(
                **picked(article, _HIT_NAMES),
                rank=rank,
                snippet=snippet(body or article.title, parsed),
            )
        )
    return hits
