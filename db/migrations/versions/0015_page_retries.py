"""Article pages for the full text: how many times a page was tried (a failed page is
tried again on later polls, a bounded number of times), and the title, author and date a
site rule found on it (used when the feed entry has none).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    # Plain ADD COLUMNs: nothing refers to fetched_pages, and no table is rebuilt.
    op.add_column(
        "fetched_pages", sa.Column("tries", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column("fetched_pages", sa.Column("title", sa.Text()))
    op.add_column("fetched_pages", sa.Column("author", sa.Text()))
    op.add_column("fetched_pages", sa.Column("published", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("fetched_pages") as batch:
        for column in ("published", "author", "title", "tries"):
            batch.drop_column(column)
