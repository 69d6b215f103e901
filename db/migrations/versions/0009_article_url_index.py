"""Index on articles.url: the cross-source duplicate look-up by canonical URL is a probe.

Without it every ingest of a remote document that brings new entries scans the articles
table (`Store.find_duplicates`, `url IN (...)`), which grows with the store.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    # Hash on PostgreSQL: B-tree entries are limited to about 2.7 KB and URLs are not.
    op.create_index("ix_articles_url", "articles", ["url"], postgresql_using="hash")


def downgrade() -> None:
    op.drop_index("ix_articles_url", table_name="articles")
