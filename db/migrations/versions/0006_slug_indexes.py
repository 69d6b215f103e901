"""Indexes for minting unique slugs: finding the taken ones of a section is an index probe.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_category_slug", "articles", ["category_id", "slug"])
    op.create_index("ix_articles_source_slug", "articles", ["source_id", "slug"])


def downgrade() -> None:
    op.drop_index("ix_articles_source_slug", table_name="articles")
    op.drop_index("ix_articles_category_slug", table_name="articles")
