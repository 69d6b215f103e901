"""Full text of truncated feeds: where each article's text came from, and the article
pages fetched for it (fetched once, again only when the entry changes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0012"


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(
            sa.Column("text_source", sa.String(8), nullable=False, server_default="feed")
        )
    op.create_table(
        "fetched_pages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "source_id", sa.Integer, sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("url_key", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("content_html", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source_id", "url_key"),
    )


def downgrade() -> None:
    op.drop_table("fetched_pages")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("text_source")
