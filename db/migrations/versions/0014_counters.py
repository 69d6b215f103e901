"""Counters for the status page, builds, and adaptive polling.

`counters` holds, per source and hour or day, the articles stored and the fetches by
outcome, so the status page reads a few rows per source instead of counting articles;
`counter_totals` the articles of all sources per hour or day.
`builds` remembers each build's time and size. `sources.interval_auto` marks a source
whose interval follows how often it publishes (`interval = "auto"`), within
`interval_min` and `interval_max`; `interval_used` and `interval_reason` say which
interval the last poll chose and why (configured, adaptive, the server's).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations.columns import cascade_key

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.create_table(
        "counters",
        cascade_key("source_id", "sources.id"),
        sa.Column("span", sa.String(length=1), primary_key=True),
        sa.Column("bucket", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("stored", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("fetch_new", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("fetch_same", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("fetch_error", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_counters_span_bucket",
        "counters",
        ["span", "bucket", "source_id", "stored", "fetch_new", "fetch_same", "fetch_error"],
    )
    # Each source's total of articles held now (span "t"), counted once here and kept
    # up to date by every store and delete from then on.
    op.execute(
        "INSERT INTO counters (source_id, span, bucket, stored, fetch_new, fetch_same,"
        " fetch_error) SELECT source_id, 't', 0, count(*), 0, 0, 0 FROM articles"
        " GROUP BY source_id"
    )
    op.create_table(
        "counter_totals",
        sa.Column("span", sa.String(length=1), primary_key=True),
        sa.Column("bucket", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("stored", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "builds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("feeds", sa.Integer(), nullable=False),
    )
    op.create_index("ix_builds_started", "builds", ["started"])
    # A plain ADD COLUMN (no batch): on SQLite a batch may rebuild the table.
    op.add_column(
        "sources",
        sa.Column("interval_auto", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("sources", sa.Column("interval_min", sa.Integer(), nullable=True))
    op.add_column("sources", sa.Column("interval_max", sa.Integer(), nullable=True))
    op.add_column("sources", sa.Column("interval_used", sa.Integer(), nullable=True))
    op.add_column("sources", sa.Column("interval_reason", sa.String(length=20), nullable=True))


def downgrade() -> None:
    for column in (
        "interval_reason",
        "interval_used",
        "interval_max",
        "interval_min",
        "interval_auto",
    ):
        op.execute(f"ALTER TABLE sources DROP COLUMN {column}")  # SQLite 3.35+, PostgreSQL
    op.drop_index("ix_builds_started", table_name="builds")
    op.drop_table("builds")
    op.drop_table("counter_totals")
    op.drop_index("ix_counters_span_bucket", table_name="counters")
    op.drop_table("counters")
