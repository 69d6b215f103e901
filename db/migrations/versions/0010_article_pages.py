"""Article page addresses: `articles.page_path`, minted once and never changed.

Each article's page lives at `articoli/<yyyy>/<mm>/<slug>/` (see `db.pages`); the address is
stored so that an edited title never moves a published page. Rows stored before this
revision get theirs here, oldest id first (so the first of two equal slugs keeps the
plain address), and a unique index keeps every address to one article.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.pages import backfill_rows
from db.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("page_path", sa.String(length=300), nullable=True))
    _backfill()
    op.create_index("ix_articles_page_path", "articles", ["page_path"], unique=True)


def _backfill() -> None:
    connection = op.get_bind()
    articles = sa.table(
        "articles",
        sa.column("id", sa.Integer),
        sa.column("slug", sa.String),
        sa.column("published", UTCDateTime),
        sa.column("page_path", sa.String),
    )
    rows = connection.execute(
        sa.select(articles.c.id, articles.c.slug, articles.c.published).order_by(articles.c.id)
    ).all()
    paths = backfill_rows(rows)
    statement = (
        sa.update(articles)
        .where(articles.c.id == sa.bindparam("b_id"))
        .values(page_path=sa.bindparam("b_path"))
    )
    for start in range(0, len(paths), _BATCH):
        chunk = paths[start : start + _BATCH]
        connection.execute(statement, [{"b_id": i, "b_path": p} for i, p in chunk])


def downgrade() -> None:
    op.drop_index("ix_articles_page_path", table_name="articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("page_path")
