"""Topic memberships keyed by the topic walk.

`topic_articles` takes (topic_slug, published, article_id) as its primary key, the order
a topic feed reads it in, and `ix_topic_articles_topic_published`, which held that same
order beside the key, goes: each membership is written to one B-tree fewer. On SQLite the
table is rebuilt WITHOUT ROWID, so the rows themselves are stored in that order and the
rowid's B-tree goes as well. `ix_topic_articles_article` stays (an upsert reads an
article's topics, and a deleted article's memberships cascade through it).

(topic_slug, article_id) stays unique because an article's `published` never changes once
stored, and each membership copies it.

The statements are spelled out here, not derived from the models: this revision must
build the same table on every later upgrade.
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"

_WALK_INDEX = "ix_topic_articles_topic_published"
_ARTICLE_INDEX = "ix_topic_articles_article"

# The columns and foreign keys revision 0004 gave the table, in its order; only the key
# and the storage differ between the two layouts.
_SQLITE_TABLE = """CREATE TABLE {name} (
    topic_slug VARCHAR(200) NOT NULL,
    article_id INTEGER NOT NULL,
    published DATETIME NOT NULL,
    PRIMARY KEY ({key}),
    FOREIGN KEY(topic_slug) REFERENCES topics (slug) ON DELETE CASCADE,
    FOREIGN KEY(article_id) REFERENCES articles (id) ON DELETE CASCADE
){storage}"""
_COLUMNS = "topic_slug, article_id, published"


def _sqlite_rebuild(key: str, storage: str, order: str) -> None:
    """Copy the memberships into a table of the given key and storage, which then takes
    the old one's name. Foreign keys are on during a migration (`db.engine`); that is
    harmless here: no table refers to `topic_articles`, so dropping it deletes nothing
    else, and the new table's rows refer to the same topics and articles."""
    op.execute(_SQLITE_TABLE.format(name="topic_articles_new", key=key, storage=storage))
    # In the new key's order: each row is appended to its B-tree, not inserted mid-page.
    op.execute(
        f"INSERT INTO topic_articles_new ({_COLUMNS})"  # noqa: S608 - constants only
        f" SELECT {_COLUMNS} FROM topic_articles ORDER BY {order}"
    )
    op.execute("DROP TABLE topic_articles")  # its indexes go with it
    op.execute("ALTER TABLE topic_articles_new RENAME TO topic_articles")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(
            "topic_slug, published, article_id",
            " WITHOUT ROWID",
            "topic_slug, published, article_id",
        )
        op.execute(f"CREATE INDEX {_ARTICLE_INDEX} ON topic_articles (article_id)")
    else:
        op.drop_constraint("topic_articles_pkey", "topic_articles", type_="primary")
        op.create_primary_key(
            "topic_articles_pkey", "topic_articles", ["topic_slug", "published", "article_id"]
        )
        op.drop_index(_WALK_INDEX, table_name="topic_articles")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild("topic_slug, article_id", "", "topic_slug, article_id")
        op.execute(
            f"CREATE INDEX {_WALK_INDEX} ON topic_articles (topic_slug, published, article_id)"
        )
        op.execute(f"CREATE INDEX {_ARTICLE_INDEX} ON topic_articles (article_id)")
    else:
        op.create_index(_WALK_INDEX, "topic_articles", ["topic_slug", "published", "article_id"])
        op.drop_constraint("topic_articles_pkey", "topic_articles", type_="primary")
        op.create_primary_key("topic_articles_pkey", "topic_articles", ["topic_slug", "article_id"])
