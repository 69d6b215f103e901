"""Indexes for minting unique slugs: finding the taken ones of a section is an index probe."""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_index("ix_articles_category_slug", "articles", ["category_id", "slug"])
    op.create_index("ix_articles_source_slug", "articles", ["source_id", "slug"])


def downgrade() -> None:
    op.drop_index("ix_articles_source_slug", table_name="articles")
    op.drop_index("ix_articles_category_slug", table_name="articles")
