"""Column and table builders and the batched read the migrations share.

Frozen like the migrations that use them: a revision that has shipped must build the same
schema on every later upgrade, so never change what a builder here makes; add a new one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


def cascade_key(
    name: str, target: str, kind: sa.types.TypeEngine[Any] | None = None
) -> sa.Column[Any]:
    """A primary-key column referring to `target` ("table.column"), whose rows go with
    the row they refer to (an integer column unless `kind` says otherwise)."""
    return sa.Column(
        name,
        kind if kind is not None else sa.Integer(),
        sa.ForeignKey(target, ondelete="CASCADE"),
        primary_key=True,
    )


def create_membership(
    name: str, label: sa.Column[Any], walk: str, *, label_first: bool = False
) -> None:
    """Create a membership table: which articles a label (a tag, an author, a topic) holds,
    each row with a copy of its article's `published`, and the `walk` index on (label,
    published, article) that reads the newest articles of a label in order. The primary
    key is (article, label), or (label, article) with `label_first`."""
    article = cascade_key("article_id", "articles.id")
    op.create_table(
        name,
        *((label, article) if label_first else (article, label)),
        sa.Column("published", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(walk, name, [label.name, "published", "article_id"])


def in_id_order(
    connection: sa.Connection, query: sa.Select[Any], key: sa.ColumnElement[int], size: int
) -> Iterator[Sequence[Any]]:
    """The rows of `query` in the order of `key`, an integer column the query selects first,
    `size` rows at a time: a back-fill never holds every article in memory, and rows it
    writes between two batches do not move the next batch (each starts after the last key
    read)."""
    last = 0
    while rows := connection.execute(query.where(key > last).order_by(key).limit(size)).all():
        yield rows
        last = rows[-1][0]
