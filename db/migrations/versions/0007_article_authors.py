"""Authors normalized: `authors` and `article_authors`, for author feeds (`autore/<slug>/`)

`articles.authors` is a JSON list, fine for showing an article but not for "the newest 50
articles of Mario Rossi", which would read and parse every article. As for tags, each
author becomes a row of `authors` (by slug) and each (article, author) pair a row of
`article_authors` with the article's `published` copied, indexed by
`(author_id, published, article_id)`: an author feed is an index walk of N entries.

The back-fill reads the stored lists in id order, a chunk at a time, and names each author
with the first spelling met, as the store's upsert does from then on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from alembic import op
from slugify import slugify

from db.migrations.columns import cascade_key, create_membership, in_id_order

revision = "0007"
down_revision = "0006"

_CHUNK = 2000
_NAME_LENGTH = 200


# A frozen copy of the author rule this revision shipped (`db.labels.author_labels` and
# its slug rule), so a later change of the live code cannot change what upgrading an old
# database writes.
def _slug(name: str) -> str:
    return slugify(name, lowercase=True, replacements=[["'", "-"], ["’", "-"]]) or "senza-nome"


def author_labels(names: Iterable[str]) -> dict[str, str]:
    """The authors of one article as {slug: name}, in order, blank and repeated ones
    dropped."""
    labels: dict[str, str] = {}
    for name in names:
        clean = " ".join(name.split())[:_NAME_LENGTH]
        if clean:
            labels.setdefault(_slug(clean)[:_NAME_LENGTH].strip("-") or "senza-nome", clean)
    return labels


def upgrade() -> None:
    op.create_table(
        "authors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.UniqueConstraint("slug", name="uq_authors_slug"),
    )
    create_membership(
        "article_authors",
        cascade_key("author_id", "authors.id"),
        "ix_article_authors_author_published",
    )
    _backfill(op.get_bind())


def _backfill(connection: sa.Connection) -> None:
    articles = sa.table(
        "articles",
        sa.column("id", sa.Integer()),
        sa.column("authors", sa.JSON()),
        sa.column("published", sa.DateTime(timezone=True)),
    )
    authors = sa.table(
        "authors", sa.column("id", sa.Integer()), sa.column("name"), sa.column("slug")
    )
    links = sa.table(
        "article_authors",
        sa.column("article_id", sa.Integer()),
        sa.column("author_id", sa.Integer()),
        sa.column("published", sa.DateTime(timezone=True)),
    )
    ids: dict[str, int] = {}
    stored = sa.select(articles.c.id, articles.c.authors, articles.c.published)
    for rows in in_id_order(connection, stored, articles.c.id, _CHUNK):
        per_article = [(row[0], author_labels(_names(row[1])), row[2]) for row in rows]
        new: dict[str, str] = {}
        for _, labels, _ in per_article:
            for slug, name in labels.items():
                if slug not in ids:
                    new.setdefault(slug, name)
        if new:
            connection.execute(authors.insert(), [{"slug": s, "name": n} for s, n in new.items()])
            query = sa.select(authors.c.slug, authors.c.id).where(authors.c.slug.in_(list(new)))
            ids.update((slug, author_id) for slug, author_id in connection.execute(query))
        values = [
            {"article_id": article_id, "author_id": ids[slug], "published": published}
            for article_id, labels, published in per_article
            for slug in labels
        ]
        if values:
            connection.execute(links.insert(), values)


def _names(value: Any) -> list[str]:
    # The column is JSON; a driver may hand back the text when the dialect does not decode.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def downgrade() -> None:
    op.drop_index("ix_article_authors_author_published", table_name="article_authors")
    op.drop_table("article_authors")
    op.drop_table("authors")
