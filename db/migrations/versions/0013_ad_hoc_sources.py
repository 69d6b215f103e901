"""Ad-hoc sources: those made by `rassegna ingest PATH|URL` outside the configuration are
marked, so `rassegna sources` can tell them from configured and dropped ones.

Sources stored before this revision by an ad-hoc ingest were named after their folder's
path or their URL (name equal to location, or a URL): those are marked ad hoc too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("ad_hoc", sa.Boolean(), nullable=False, server_default="0"))
    sources = sa.table(
        "sources",
        sa.column("name", sa.String),
        sa.column("location", sa.Text),
        sa.column("ad_hoc", sa.Boolean),
    )
    op.execute(
        sources.update()
        .where(
            sa.or_(
                sources.c.name == sources.c.location,
                sources.c.name.like("http://%"),
                sources.c.name.like("https://%"),
            )
        )
        .values(ad_hoc=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("ad_hoc")
