"""Full-text search of the stored articles, and topic membership, on both databases.

Text analysis (SQLite)
    SQLite's FTS5 has no Italian stemmer, so the index holds text we analyse in Python:
    accents stripped, case folded, elided articles dropped (`l'Ucraina` → `ucraina`), every
    word reduced by the Snowball Italian stemmer (`elezioni`, `elezione` → `elezion`).
    Queries go through the same `analyze`, so index and query always agree. Accents are
    stripped *before* stemming: the stemmer treats `città` and `citta` differently, and a
    reader who types `citta` must find `città`. The FTS5 table still uses
    `unicode61 remove_diacritics 2`, which is a no-op on our text but keeps any text that
    reaches it by another path accent-insensitive too.

Keeping the SQLite index in step
    Triggers cannot stem, so the index is written by `index_articles`, which
    `Store.upsert_articles` calls in its own transaction right after writing the rows
    (the only writer of article text): the article and its index entry commit or roll back
    together. Deletions need no Python, so a trigger on `articles` removes the index entry
    (it also fires for rows removed by `ON DELETE CASCADE` from a source).

PostgreSQL
    A `search_vector tsvector` column written by a trigger with the `rassegna_italian`
    text search configuration (a copy of `italian` that runs `unaccent` first when the
    extension can be installed), indexed by GIN. Tags live in another table, so statement
    triggers on `article_tags` touch the articles whose tags changed. Queries are turned
    into a `to_tsquery` string of sanitised words, so PostgreSQL stems them its own way.

Queries
    Words are ANDed; `OR` between two terms makes them alternatives; `"..."` is a phrase;
    `-word` or `-"phrase"` excludes; `word*` is a prefix (at least 3 letters, never a
    leading wildcard). Length and term counts are capped (`QueryError` otherwise), so one
    request can never make the database scan its index many times over. On SQLite a
    search ranks (bm25) only the newest `RANK_NEWEST` matches, inside the FTS5 table, and
    joins only the hits it returns to `articles` (see `RANK_NEWEST` for why).

Snippets are cut in Python from the article's text, for the same output on both databases.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import islice
from typing import Any

import snowballstemmer
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
    insert,
    literal_column,
    select,
    table,
    text,
    update,
)

from db.labels import label_slug
from db.records import SearchHit, StoredArticle, TopicDef, TopicInfo
from db.tables import (
    ARTICLE_TAGS,
    ARTICLES,
    CATEGORIES,
    SOURCES,
    TAGS,
    TOPIC_ARTICLES,
    TOPICS,
    VISIBLE,
    chunks,
)

MAX_QUERY_CHARS = 200
MAX_TERMS = 12
MAX_PHRASE_WORDS = 8
MAX_PREFIX_TERMS = 3
MIN_PREFIX_CHARS = 3
SNIPPET_OPEN = "**"
SNIPPET_CLOSE = "**"
PG_CONFIG = "rassegna_italian"
FTS_TABLE = "articles_fts"
TOPIC_BACKFILL_LIMIT = 2000
"""Articles a new or edited topic is filled with (the newest): its feed shows far fewer."""

_FTS = table(FTS_TABLE, column("rowid"))


class QueryError(ValueError):
    """A search query we refuse: empty, too long, too many terms, a leading wildcard."""


# -- analysis -----------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
# Words that elide before a vowel (l'anno, dell'Ucraina, quest'anno, c'è, un'altra):
# dropped when written with an apostrophe, so `l'Ucraina` is the word `Ucraina`.
_ELIDED = frozenset(
    (
        *("l", "un", "dell", "all", "dall", "nell", "sull", "coll", "pell", "tra"),
        *("quell", "quest", "bell", "sant", "buon", "nessun", "gl", "degl", "agl"),
        *("dagl", "negl", "sugl", "anch", "senz", "com", "dov", "cos", "ch", "qual"),
        *("d", "c", "m", "t", "s", "v", "n"),
    )
)
_ELISION = re.compile(r"\b([^\W\d_]{1,6})'(?=[^\W\d_])")
_STEMMER = snowballstemmer.stemmer("italian")


FOLD_CACHE_CHARS = 8192
"""Distinct characters whose folded form `fold` remembers (Latin, Greek, Cyrillic and
punctuation fit many times over; rarer scripts are folded anew each time, never stored)."""


def fold_char(char: str) -> str:
    """The definition of folding, one character: apostrophes made plain, case folded,
    compatibility-decomposed (NFKD), combining marks dropped."""
    decomposed = unicodedata.normalize("NFKD", char.translate(_APOSTROPHES).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _FoldTable(dict[int, str]):
    """A `str.translate` table filled on first use of each character, up to
    FOLD_CACHE_CHARS entries (a hostile text of rare characters cannot grow it further).

    Folding character by character equals folding the whole text: case folding and NFKD
    decomposition are per character, and the only thing NFKD does across characters
    (reordering adjacent combining marks) concerns marks that are then dropped."""

    def __missing__(self, key: int) -> str:
        folded = fold_char(chr(key))
        if len(self) < FOLD_CACHE_CHARS:
            self[key] = folded
        return folded


_FOLD_TABLE = _FoldTable()


_NON_ASCII = re.compile(r"([^\x00-\x7f]+)")


def fold(value: str) -> str:
    """Lower case without diacritics (`Città` → `citta`), apostrophes made plain: the same
    as `fold_char` on every character (`tests/test_search.py` checks both).

    The index is written at ingest for every article, and normalizing whole texts cost
    ~2.5 ms per article. Italian text is nearly all ASCII, so the ASCII stretches are
    lowered by `str.lower` (ASCII case folding is lowering) and only the runs of other
    characters go through the table, each character's folding computed once."""
    if value.isascii():
        return value.lower().replace("`", "'")
    pieces = _NON_ASCII.split(value)  # ASCII at even indexes, other runs at odd ones
    pieces[0::2] = [piece.lower().replace("`", "'") for piece in pieces[0::2]]
    pieces[1::2] = [piece.translate(_FOLD_TABLE) for piece in pieces[1::2]]
    return "".join(pieces)


def _drop_elisions(folded: str) -> str:
    return _ELISION.sub(lambda m: " " if m.group(1) in _ELIDED else m.group(0), folded)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball Italian stem of a folded word (cached: news reuse a small vocabulary,
    and the pure-Python stemmer is most of the indexing cost)."""
    return str(_STEMMER.stemWord(word))


def words(value: str) -> list[str]:
    """The folded words of a text, elided articles dropped, not stemmed."""
    return _WORD.findall(_drop_elisions(fold(value)))


def analyze(value: str) -> list[str]:
    """The stems a text is indexed (and a query is matched) as."""
    return [stem(w) for w in words(value)]


CHUNK_CACHE = 32_768
"""Distinct whitespace-separated pieces of folded text whose index text is remembered."""


@lru_cache(maxsize=CHUNK_CACHE)
def _chunk_index(chunk: str) -> str:
    return " ".join(stem(w) for w in _WORD.findall(_drop_elisions(chunk)))


def index_text(value: str) -> str:
    """`" ".join(analyze(value))`, what the SQLite index stores, computed per piece of
    folded text between spaces, each piece once (cached): news repeat the same few
    thousand words, and running the elision and word regexes over every article's text
    cost more than folding it. Equal to the definition because neither regex crosses
    white space (an elision is letters, an apostrophe and a letter; a piece's start and
    end are word boundaries either way)."""
    return " ".join(filter(None, map(_chunk_index, fold(value).split())))


# -- queries ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """One word, phrase or prefix of a query, as folded words (not stemmed)."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def stems(self) -> tuple[str, ...]:
        return tuple(stem(w) for w in self.words)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """An AND of OR-groups of terms, minus the excluded terms."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()

    def with_excluded(self, terms: Iterable[Term]) -> ParsedQuery:
        return ParsedQuery(self.groups, self.excluded + tuple(terms))

    @property
    def positive(self) -> list[Term]:
        return [term for group in self.groups for term in group]


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse_query(query: str) -> ParsedQuery:
    """Parse a reader's query (see the module docstring); raises QueryError."""
    query = query.strip()
    if not query:
        raise QueryError("the search is empty: give at least one word")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the search is too long: at most {MAX_QUERY_CHARS} characters")
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    count = 0
    prefixes = 0
    for match in _TOKEN.finditer(query):
        negate, phrase, bare = match.group(1), match.group(2), match.group(3)
        if bare == "OR":
            join_next = bool(groups)
            continue
        prefix = False
        if bare is not None:
            negate = "-" if bare.startswith("-") and len(bare) > 1 else ""
            bare = bare[1:] if negate else bare
            if bare.startswith("*"):
                raise QueryError(f"«{bare}»: a search word cannot start with *")
            if bare.endswith("*"):
                bare, prefix = bare.rstrip("*"), True
            found = words(bare)
        else:
            found = words(phrase or "")
        if not found:
            continue
        if prefix and (len(found) != 1 or len(found[0]) < MIN_PREFIX_CHARS):
            raise QueryError(f"«{bare}*»: a prefix needs at least {MIN_PREFIX_CHARS} letters")
        prefixes += prefix
        if len(found) > MAX_PHRASE_WORDS:
            raise QueryError(f"a phrase has at most {MAX_PHRASE_WORDS} words")
        count += 1
        if count > MAX_TERMS:
            raise QueryError(f"the search has too many terms: at most {MAX_TERMS}")
        if prefixes > MAX_PREFIX_TERMS:
            raise QueryError(f"the search has too many prefixes (*): at most {MAX_PREFIX_TERMS}")
        term = Term(tuple(found), prefix)
        if negate:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    if not groups:
        raise QueryError("the search has no word to look for (only exclusions or punctuation)")
    return ParsedQuery(tuple(tuple(g) for g in groups), tuple(excluded))


def _fts_term(term: Term) -> str:
    # Stems are runs of letters and digits: quoting them cannot break the FTS5 syntax.
    quoted = '"' + " ".join(term.stems) + '"'
    return quoted + "*" if term.prefix else quoted


def fts5_query(parsed: ParsedQuery) -> str:
    """The FTS5 MATCH expression of a parsed query."""
    groups = ["(" + " OR ".join(_fts_term(t) for t in group) + ")" for group in parsed.groups]
    expression = " AND ".join(groups)
    if parsed.excluded:
        expression = f"({expression}) NOT (" + " OR ".join(map(_fts_term, parsed.excluded)) + ")"
    return expression


def _pg_term(term: Term) -> str:
    # Folded words are runs of letters and digits: no tsquery operator can get through.
    parts = [w + ":*" if term.prefix else w for w in term.words]
    return "(" + " <-> ".join(parts) + ")" if len(parts) > 1 else parts[0]


def tsquery_text(parsed: ParsedQuery) -> str:
    """The `to_tsquery` text of a parsed query (PostgreSQL stems and unaccents it)."""
    groups = ["(" + " | ".join(_pg_term(t) for t in group) + ")" for group in parsed.groups]
    expression = " & ".join(groups)
    for term in parsed.excluded:
        expression += " & !" + _pg_term(term)
    return expression


# -- the SQLite index ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexRow:
    """The searchable text of one article."""

    article_id: int
    title: str
    summary: str
    body: str
    authors: Sequence[str]
    tags: Sequence[str]


def index_articles(connection: Connection, rows: Sequence[IndexRow], *, replace: bool) -> None:
    """Write the FTS5 entries of these articles (SQLite; PostgreSQL's trigger does this).

    `replace` deletes any previous entry first (changed articles).
    """
    if connection.dialect.name != "sqlite" or not rows:
        return
    if replace:
        for chunk in chunks([r.article_id for r in rows]):
            connection.execute(delete(_FTS).where(_FTS.c.rowid.in_(chunk)))
    connection.execute(
        text(
            "INSERT INTO articles_fts(rowid, title, summary, body, authors, tags)"
            " VALUES (:rowid, :title, :summary, :body, :authors, :tags)"
        ),
        [
            {
                "rowid": r.article_id,
                "title": index_text(r.title),
                "summary": index_text(r.summary),
                "body": index_text(r.body),
                "authors": index_text(" ".join(r.authors)),
                "tags": index_text(" ".join(r.tags)),
            }
            for r in rows
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
            .select_from(_FTS.join(ARTICLES, a.id == _FTS.c.rowid))
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

A choice, not an accident: bm25 costs a few microseconds per match (it reads each
match's column sizes and positions), so ranking every match of a word that is in half
the archive (`sindaco`: 130,000 of 200,000 articles) took half a second, and a subject
with 5,000 matches 15-40 ms. A query with fewer matches is ranked whole; a more common
one is ranked among its newest RANK_NEWEST matches, which is where a reader of a press
review looks anyway (`since`, a source or a category narrow the set first, so older
articles stay reachable). bm25 still has a fixed cost per query that this does not
bound: it counts the articles holding each term, a walk of the term's whole list (10-50
ms for a word or phrase in most of the archive, like `del` or `"giunta comunale"`).
PostgreSQL ranks every match."""


def _fts_filters(filters: Filters) -> list[ColumnElement[bool]]:
    """The filters as conditions on the FTS5 row id, each a set read from a covering index
    of `articles` (a row of `articles` holds the texts: reading its `category_id` or
    `published` would walk its overflow pages, per match).

    `+rowid`: a plain `rowid IN (...)` makes SQLite run the FTS5 query once per id of the
    set (27 s for a source's 50,000 ids); the unary plus keeps it a filter on the scan."""
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
    connection: Connection, parsed: ParsedQuery, filters: Filters, limit: int
) -> list[tuple[int, float]]:
    """Rank inside the FTS5 table, join only the best `limit` rows to `articles`.

    The newest RANK_NEWEST matches (FTS5 walks its index by descending row id, no sort)
    are scored by bm25, the best `limit` kept, ties broken by id; only those are joined
    to `articles`, for the `published` order among equal ranks."""
    score: ColumnElement[Any] = literal_column(f"bm25({FTS_TABLE}, 10.0, 4.0, 1.0, 2.0, 3.0)")
    newest = (
        select(_FTS.c.rowid.label("id"), score.label("score"))
        .where(text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=fts5_query(parsed)))
        .where(*_fts_filters(filters))
        .order_by(_FTS.c.rowid.desc())
        .limit(RANK_NEWEST)
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
    connection: Connection, parsed: ParsedQuery, filters: Filters, limit: int
) -> list[tuple[int, float]]:
    """(id, rank) of the best `limit` matches, best first, newest first among equals
    (on SQLite among the newest RANK_NEWEST matches: see there)."""
    if connection.dialect.name == "sqlite":
        return _ranked_sqlite(connection, parsed, filters, limit)
    statement = matching(connection.dialect.name, parsed, filters).where(VISIBLE)
    statement = statement.order_by(literal_column("rank"), ARTICLES.c.published.desc())
    return [
        (int(row[0]), float(row[2])) for row in connection.execute(statement.limit(limit)).all()
    ]


# -- topics -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredTopic:
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


_INSERT_MEMBERSHIPS = {
    "qmark": "INSERT INTO topic_articles (topic_slug, article_id, published) VALUES (?, ?, ?)",
    "format": "INSERT INTO topic_articles (topic_slug, article_id, published) VALUES (%s, %s, %s)",
    "pyformat": "INSERT INTO topic_articles (topic_slug, article_id, published)"
    " VALUES (%s, %s, %s)",
}


def _insert_memberships(connection: Connection, rows: list[tuple[str, int, object]]) -> None:
    """The driver's own executemany: `published` goes back exactly as it was read, and
    SQLAlchemy's per-row parameter handling cost more than SQLite's insert (30,000 rows)."""
    connection.exec_driver_sql(_INSERT_MEMBERSHIPS[connection.dialect.paramstyle], rows)


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
        # Ids only from each topic's query: no rank to compute (bm25 per match on SQLite)
        # and no date to convert per membership. The dates are read once per chunk as the
        # driver gives them and written back as they are (50 topics over 1,000 articles
        # made 30,000 memberships, and converting each date both ways cost a fifth of it).
        published: dict[int, object] = {
            int(article_id): raw
            for article_id, raw in connection.execute(
                select(ARTICLES.c.id, literal_column("articles.published")).where(
                    ARTICLES.c.id.in_(chunk)
                )
            )
        }
        after: dict[tuple[str, int], object] = {}
        sqlite = connection.dialect.name == "sqlite"
        for topic in topics:
            statement = matching(
                connection.dialect.name, topic.parsed, topic.filters
            ).with_only_columns(ARTICLES.c.id)
            if sqlite:
                # FTS5 takes a rowid range into its index walk (without it each topic query
                # read its words' postings for the whole store, once per chunk); the ids in
                # the range that are not in the chunk are dropped below.
                statement = statement.where(_FTS.c.rowid.between(chunk[0], chunk[-1]))
            else:
                statement = statement.where(ARTICLES.c.id.in_(chunk))
            for (article_id,) in connection.execute(statement):
                if int(article_id) in published:
                    after[(topic.slug, int(article_id))] = published[int(article_id)]
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
            _insert_memberships(connection, new)
        changed |= {slug for slug, _ in gone} | {slug for slug, _ in after.keys() - before}
    return changed


def backfill_topic(connection: Connection, topic: StoredTopic) -> int:
    """Fill a new or edited topic with its newest matches; returns how many."""
    ta = TOPIC_ARTICLES.c
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
    distinct = set(_WORD.findall(value))
    if prefixes:
        hits = {
            token
            for token in distinct
            if any(s in stems or s.startswith(starts) for s in _token_stems(token))
        }
    else:  # the common case, as set operations in C
        hits = {token for token in distinct if not stems.isdisjoint(_token_stems(token))}
    tokens = _WORD.finditer(value)
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


# -- store entry points (called by `db.store.Store`) ---------------------------------------

Loader = Callable[[Connection, Sequence[int]], dict[int, StoredArticle]]


def run_search(
    engine: Engine, query: str, filters: Filters, limit: int, load: Loader
) -> list[SearchHit]:
    """Parse, rank, load the hits and cut their snippets."""
    parsed = parse_query(query)
    limit = max(1, min(limit, 500))
    with engine.connect() as connection:
        ranks = ranked(connection, parsed, filters, limit)
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
                id=article.id,
                uid=article.uid,
                title=article.title,
                url=article.url,
                source_name=article.source_name,
                source_slug=article.source_slug,
                published=article.published,
                summary=article.summary,
                rank=rank,
                snippet=snippet(body or article.title, parsed),
                category=article.category,
                tags=article.tags,
            )
        )
    return hits


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
