"""Article page addresses: `articles.page_path`, minted once and never changed.

Each article's page lives at `articoli/<yyyy>/<mm>/<slug>/` (see `db.pages`); the address is
stored so that an edited title never moves a published page. Rows stored before this
revision get theirs here, oldest id first (so the first of two equal slugs keeps the
plain address), and a unique index keeps every address to one article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"

_BATCH = 1000

# -- the page address this revision shipped -------------------------------------------------
# A frozen copy of `db.pages.backfill_rows` and what it calls, so a later change of the
# live code cannot change what upgrading an old database writes.

_FOLDER = "articoli"
_FALLBACK_SLUG = "articolo"
_UNSAFE = re.compile(r"[^a-z0-9-]+")
_MAX_SLUG = 120


def _base_path(slug: str, published: datetime) -> str:
    if published.tzinfo is not None:
        published = published.astimezone(UTC)
    safe = _UNSAFE.sub("-", slug.lower()).strip("-")[:_MAX_SLUG].strip("-") or _FALLBACK_SLUG
    return f"{_FOLDER}/{published.year:04d}/{published.month:02d}/{safe}"


def _unique_paths(bases: Sequence[str]) -> list[str]:
    taken: set[str] = set()
    paths = []
    for base in bases:
        path, number = base, 1
        while path in taken:
            number += 1
            path = f"{base}-{number}"
        taken.add(path)
        paths.append(path)
    return paths


def backfill_rows(rows: Sequence[Any]) -> list[tuple[int, str]]:
    """Addresses for rows of (id, slug, published), oldest id first keeping the plain
    address."""
    paths = _unique_paths([_base_path(r[1] or "", r[2]) for r in rows])
    return [(r[0], path) for r, path in zip(rows, paths, strict=True)]


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
        sa.column("published", sa.DateTime(timezone=True)),
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
