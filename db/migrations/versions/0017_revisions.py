"""Revisions: named counters a process compares to know that something it cached changed
in the store. `results` goes up each time stored articles leave or join what readers can
find (hidden or shown by `rassegna rules apply` and `--undo`, pruned, deleted with their
source), so the server's `/cerca` cache, in another process, searches again. A row
appears at its first change; a missing row reads as 0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.create_table(
        "revisions",
        sa.Column("name", sa.String(length=40), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("revisions")
