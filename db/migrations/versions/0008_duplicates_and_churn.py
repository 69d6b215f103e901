"""Cross-source duplicates by title and lead, and capped edits of remote articles.

`articles.title_key` (indexed with `published`) finds the articles whose title is nearly
equal to a new entry's within the duplicate window in one indexed look-up (`db.dedup`);
existing rows are back-filled here. `visible_hash` is the digest of what a reader sees,
so markup-only churn upstream is not an edit; `edit_count` / `edit_window_start` cap the
edits of one article per day. `linked_sources` counts the other sources carrying an
article (it changes the feed's change stamps when a source is linked) and
`article_links.url` is the other source's own URL for that story.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.dedup import title_key

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 1000


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
    last = 0
    while True:
        rows = connection.execute(
            sa.select(articles.c.id, articles.c.title)
            .where(articles.c.id > last)
            .order_by(articles.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            articles.update().where(articles.c.id == sa.bindparam("b_id")),
            [{"b_id": row.id, "title_key": title_key(row.title or "")} for row in rows],
        )
        last = rows[-1].id


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
