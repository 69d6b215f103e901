"""Full-text search and topic feeds

SQLite: an FTS5 table `articles_fts(title, summary, body, authors, tags)` holding the
Italian-stemmed text of each article (rowid = articles.id; see `db.search` for why the
text is analysed in Python), a trigger removing an article's entry when it is deleted,
and a back-fill of every stored article.

PostgreSQL: a text search configuration `rassegna_italian` (a copy of `italian`, with
`unaccent` first when the extension can be installed; without it accents stay significant),
a `search_vector` column on `articles` written by a trigger (tags through statement
triggers on `article_tags`), a GIN index, and a back-fill.

Both: `topics` (the configured topic feeds and a digest of each definition) and
`topic_articles` (which articles each topic holds, with `published` copied for an index
walk like `article_tags`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable

import snowballstemmer
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.exc import DBAPIError

from db.migrations.columns import cascade_key, create_membership, in_id_order

revision = "0004"
down_revision = "0003"

PG_CONFIG = "rassegna_italian"

# -- the text analysis of this revision's SQLite back-fill ---------------------------------
# A frozen copy of `db.search`'s analysis as this revision shipped it (its definition, not
# its cached fast paths), so a later change of the live code cannot change what upgrading
# an old database writes. The store reads and writes the index with the live analysis.

_WORD = re.compile(r"[^\W_]+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_ELIDED = frozenset(
    (
        *("l", "un", "dell", "all", "dall", "nell", "sull", "coll", "pell", "tra"),
        *("quell", "quest", "bell", "sant", "buon", "nessun", "gl", "degl", "agl"),
        *("dagl", "negl", "sugl", "anch", "senz", "com", "dov", "cos", "ch", "qual"),
        *("d", "c", "m", "t", "s", "v", "n"),
    )
)
_ELISION = re.compile(r"\b([^\W\d_]{1,6})'(?=[^\W\d_])")


def _fold(value: str) -> str:
    """Apostrophes made plain, case folded, compatibility-decomposed, marks dropped."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_APOSTROPHES).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _index_text(value: str, stemmer: snowballstemmer.stemmer) -> str:
    """The stems of a text, as the index holds them: folded, elided articles dropped."""
    folded = _ELISION.sub(lambda m: " " if m.group(1) in _ELIDED else m.group(0), _fold(value))
    return " ".join(str(stemmer.stemWord(word)) for word in _WORD.findall(folded))


def _index_rows(
    connection: sa.Connection, rows: Iterable[tuple[int, str, str, str, list[str], list[str]]]
) -> None:
    """Write the FTS5 entries of (id, title, summary, body, authors, tags)."""
    stemmer = snowballstemmer.stemmer("italian")
    values = [
        {
            "rowid": article_id,
            "title": _index_text(title, stemmer),
            "summary": _index_text(summary, stemmer),
            "body": _index_text(body, stemmer),
            "authors": _index_text(" ".join(authors), stemmer),
            "tags": _index_text(" ".join(tags), stemmer),
        }
        for article_id, title, summary, body, authors, tags in rows
    ]
    if values:
        connection.execute(
            sa.text(
                "INSERT INTO articles_fts(rowid, title, summary, body, authors, tags)"
                " VALUES (:rowid, :title, :summary, :body, :authors, :tags)"
            ),
            values,
        )


_PG_VECTOR = """
CREATE OR REPLACE FUNCTION rassegna_articles_search_vector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('rassegna_italian', coalesce(NEW.title, '')), 'A')
        || setweight(to_tsvector('rassegna_italian', coalesce(NEW.summary, '')), 'B')
        || setweight(to_tsvector('rassegna_italian', coalesce(NEW.authors::text, '')), 'C')
        || setweight(to_tsvector('rassegna_italian', coalesce((
            SELECT string_agg(t.name, ' ') FROM article_tags AS at
            JOIN tags AS t ON t.id = at.tag_id WHERE at.article_id = NEW.id), '')), 'C')
        || setweight(to_tsvector('rassegna_italian', coalesce(NEW.content_text, '')), 'D');
    RETURN NEW;
END
$$;
"""
# Tags are written after their article: touching `title` (listed in the trigger's UPDATE
# OF) recomputes the vector of the articles whose tags changed, once per statement.
_PG_TAGS = """
CREATE OR REPLACE FUNCTION rassegna_article_tags_search_vector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE articles SET title = title
    WHERE id IN (SELECT DISTINCT article_id FROM changed_tags);
    RETURN NULL;
END
$$;
"""


def _topic_tables() -> None:
    op.create_table(
        "topics",
        sa.Column("slug", sa.String(200), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
    )
    create_membership(
        "topic_articles",
        cascade_key("topic_slug", "topics.slug", sa.String(200)),
        "ix_topic_articles_topic_published",
        label_first=True,
    )
    op.create_index("ix_topic_articles_article", "topic_articles", ["article_id"])


def _sqlite_upgrade(connection: sa.Connection) -> None:
    op.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5("
        "title, summary, body, authors, tags, tokenize = 'unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
        "DELETE FROM articles_fts WHERE rowid = old.id; END"
    )
    # Back-fill in chunks: one article at a time through the stemmer, never all in memory.
    articles = sa.table(
        "articles",
        *(sa.column(name) for name in ("id", "title", "summary", "content_text", "authors")),
    )
    for rows in in_id_order(connection, sa.select(*articles.c), articles.c.id, 1000):
        ids = [row[0] for row in rows]
        tags: dict[int, list[str]] = {}
        for article_id, name in connection.execute(
            sa.text(
                "SELECT at.article_id, t.name FROM article_tags AS at"
                " JOIN tags AS t ON t.id = at.tag_id"
                " WHERE at.article_id >= :low AND at.article_id <= :high"
            ),
            {"low": ids[0], "high": ids[-1]},
        ):
            tags.setdefault(article_id, []).append(name)
        _index_rows(
            connection,
            [
                (
                    row[0],
                    row[1] or "",
                    row[2] or "",
                    row[3] or "",
                    json.loads(row[4]) if row[4] else [],
                    tags.get(row[0], []),
                )
                for row in rows
            ],
        )


def _pg_upgrade(connection: sa.Connection) -> None:
    # `unaccent` is a contrib extension: absent, or not ours to install (no privilege).
    # A savepoint keeps a failure from aborting the migration's transaction.
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
        savepoint.commit()
    except DBAPIError:
        savepoint.rollback()
    schema = connection.scalar(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n"
            " ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'"
        )
    )
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION {PG_CONFIG} (COPY = pg_catalog.italian)")
    if schema is not None:
        # Schema-qualified: the extension may live outside the search path.
        op.execute(
            f"ALTER TEXT SEARCH CONFIGURATION {PG_CONFIG} ALTER MAPPING FOR"
            f' hword, hword_part, word WITH "{schema}".unaccent, italian_stem'
        )
    op.add_column("articles", sa.Column("search_vector", TSVECTOR()))
    op.execute(_PG_VECTOR)
    op.execute(
        "CREATE TRIGGER articles_search_vector BEFORE INSERT OR UPDATE OF"
        " title, summary, content_text, authors ON articles"
        " FOR EACH ROW EXECUTE FUNCTION rassegna_articles_search_vector()"
    )
    op.execute(_PG_TAGS)
    for event, which in (("INSERT", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER article_tags_search_vector_{event.lower()} AFTER {event}"
            f" ON article_tags REFERENCING {which} TABLE AS changed_tags"
            " FOR EACH STATEMENT EXECUTE FUNCTION rassegna_article_tags_search_vector()"
        )
    op.execute("UPDATE articles SET title = title")
    op.execute("CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)")


def upgrade() -> None:
    connection = op.get_bind()
    _topic_tables()
    if connection.dialect.name == "sqlite":
        _sqlite_upgrade(connection)
    else:
        _pg_upgrade(connection)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS articles_fts_delete")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    else:
        op.execute("DROP TRIGGER IF EXISTS article_tags_search_vector_insert ON article_tags")
        op.execute("DROP TRIGGER IF EXISTS article_tags_search_vector_delete ON article_tags")
        op.execute("DROP TRIGGER IF EXISTS articles_search_vector ON articles")
        op.execute("DROP FUNCTION IF EXISTS rassegna_article_tags_search_vector()")
        op.execute("DROP FUNCTION IF EXISTS rassegna_articles_search_vector()")
        op.drop_index("ix_articles_search_vector", table_name="articles")
        op.drop_column("articles", "search_vector")
        op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {PG_CONFIG}")
    op.drop_index("ix_topic_articles_article", table_name="topic_articles")
    op.drop_index("ix_topic_articles_topic_published", table_name="topic_articles")
    op.drop_table("topic_articles")
    op.drop_table("topics")
