"""Keep and block rules: entries a block rule kept out, and articles hidden by a rule.

`blocked_entries` remembers, per source and guid, each entry the rules kept out of the
store, so the next poll does not count it as new again (and `rassegna sources` can say
how many a source had). `articles.hidden` marks articles that `rassegna rules apply` took
out of every feed without deleting them (`rules apply --undo` puts them back).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations.columns import cascade_key

revision = "0012"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "blocked_entries",
        cascade_key("source_id", "sources.id"),
        sa.Column("guid", sa.String(length=1000), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=False),
    )
    # A plain ADD COLUMN (no batch): on SQLite a batch may rebuild the table, and
    # dropping the old `articles` would cascade to its tags, authors and topics.
    op.add_column(
        "articles",
        sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.execute("ALTER TABLE articles DROP COLUMN hidden")  # SQLite 3.35+, PostgreSQL
    op.drop_table("blocked_entries")
