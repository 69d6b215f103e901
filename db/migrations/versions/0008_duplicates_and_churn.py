"""Cross-source duplicates by title and lead, and capped edits of remote articles.

`articles.title_key` (indexed with `published`) finds the articles whose title is nearly
equal to a new entry's within the duplicate window in one indexed look-up (`db.dedup`);
existing rows are back-filled here. `visible_hash` is the digest of what a reader sees,
so markup-only churn upstream is not an edit; `edit_count` / `edit_window_start` cap the
edits of one article per day. `linked_sources` counts the other sources carrying an
article (it changes the feed's change stamps when a source is linked) and
`article_links.url` is the other source's own URL for that story.
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

from db.migrations.columns import in_id_order

revision = "0008"
down_revision = "0007"

_BATCH = 1000

# -- the title key this revision shipped ----------------------------------------------------
# A frozen copy of `db.dedup.title_key`, so a later change of the live code cannot change
# what upgrading an old database writes.

_TITLE_KEY_CHARS = 200
_NOT_WORD = re.compile(r"[^\w]+")
_SUFFIX = re.compile(r"\s+[-|–—]\s+(?P<tail>[^-|–—]{1,60})$")
_SUFFIX_WORDS = 4
_STOPWORDS = frozenset(
    """il lo la i gli le l un uno una di a da in con su per tra fra e ed o od che del dello
    della dei degli delle dell al allo alla ai agli alle all dal dallo dalla dai dagli dalle
    dall nel nello nella nei negli nelle nell sul sullo sulla sui sugli sulle sull col coi d
    non si ci ne""".split()  # noqa: SIM905 - a word list reads better as words
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", bare.replace("_", " ")).strip()


def title_key(title: str) -> str:
    """A title's significant words (publisher suffix and Italian stopwords set aside),
    sorted and deduplicated."""
    title = title.strip()
    match = _SUFFIX.search(title)
    if match and len(match.group("tail").split()) <= _SUFFIX_WORDS:
        head = title[: match.start()]
        if len(_fold(head).split()) >= 3:
            title = head
    words = _fold(title).split()
    significant = sorted({w for w in words if w not in _STOPWORDS})
    return " ".join(significant or words)[:_TITLE_KEY_CHARS]


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(
            sa.Column("title_key", sa.String(length=200), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("visible_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("edit_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("edit_window_start", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("linked_sources", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_index("ix_articles_title_key_published", "articles", ["title_key", "published"])
    with op.batch_alter_table("article_links") as batch:
        batch.add_column(sa.Column("url", sa.Text(), nullable=True))
    _backfill()


def _backfill() -> None:
    """Title keys of the articles stored before this revision, a batch of ids at a time."""
    connection = op.get_bind()
    articles = sa.table(
        "articles",
        sa.column("id", sa.Integer),
        sa.column("title", sa.Text),
        sa.column("title_key", sa.String),
    )
    query = sa.select(articles.c.id, articles.c.title)
    for rows in in_id_order(connection, query, articles.c.id, _BATCH):
        connection.execute(
            articles.update().where(articles.c.id == sa.bindparam("b_id")),
            [{"b_id": row.id, "title_key": title_key(row.title or "")} for row in rows],
        )


def downgrade() -> None:
    with op.batch_alter_table("article_links") as batch:
        batch.drop_column("url")
    op.drop_index("ix_articles_title_key_published", table_name="articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("linked_sources")
        batch.drop_column("edit_window_start")
        batch.drop_column("edit_count")
        batch.drop_column("visible_hash")
        batch.drop_column("title_key")
