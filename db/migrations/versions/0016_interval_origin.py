"""The header or feed element behind a source's server-imposed polling interval.

`sources.min_interval_origin` names what set `min_interval_seconds` ("Cache-Control
max-age=600", "Expires", "Retry-After", "RSS ttl", "sy:updatePeriod"), so the interval
in force can say which of them the server used. Rows polled before it stay NULL until
their next poll that brings a hint.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    op.add_column("sources", sa.Column("min_interval_origin", sa.String(length=60), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE sources DROP COLUMN min_interval_origin")  # SQLite 3.35+, PostgreSQL
