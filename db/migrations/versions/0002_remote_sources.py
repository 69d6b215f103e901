"""remote sources: fetch state, url history, last_seen_at, cross-source links"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fetch_url", sa.Text(), nullable=True))
        # server_default fills the rows that exist already, on SQLite and PostgreSQL alike.
        batch_op.add_column(
            sa.Column("url_history", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("redirect_target", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("redirect_streak", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("gone", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("bozo", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_status", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("retry_after", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("min_interval_seconds", sa.Integer(), nullable=True))
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "article_links",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("guid", sa.String(length=1000), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", "guid"),
    )
    with op.batch_alter_table("article_links", schema=None) as batch_op:
        batch_op.create_index("ix_article_links_article_id", ["article_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("article_links", schema=None) as batch_op:
        batch_op.drop_index("ix_article_links_article_id")
    op.drop_table("article_links")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        for column in (
            "min_interval_seconds",
            "retry_after",
            "last_outcome",
            "last_status",
            "bozo",
            "gone",
            "redirect_streak",
            "redirect_target",
            "url_history",
            "fetch_url",
        ):
            batch_op.drop_column(column)
