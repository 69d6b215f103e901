"""article_tags.published: tag feeds walk an index instead of sorting every article of a tag

"The newest 50 articles of a tag" used to select every article of the tag, look each one
up and sort them all: linear in the tag's size, so in the store's size. With the article's
`published` copied into `article_tags` and the index `(tag_id, published, article_id)`,
the same query walks 50 index entries whatever the store holds. `published` never changes
once an article is stored, and the store writes both copies in the same statement batch.

The old `(tag_id, article_id)` index is a prefix-equivalent of the new one for every
query the store makes (lookups by tag), so it goes: one index less to maintain per tag.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    # Nullable first, so the rows that exist can be back-filled before the constraint.
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published", sa.DateTime(timezone=True), nullable=True))
    # Portable correlated UPDATE (SQLite has UPDATE ... FROM only since 3.33; PostgreSQL
    # runs this as a join anyway).
    op.execute(
        "UPDATE article_tags SET published = ("
        "SELECT articles.published FROM articles WHERE articles.id = article_tags.article_id)"
    )
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.alter_column("published", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_index("ix_article_tags_tag")
        batch_op.create_index(
            "ix_article_tags_tag_published", ["tag_id", "published", "article_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_article_tags_tag_published")
        batch_op.create_index("ix_article_tags_tag", ["tag_id", "article_id"], unique=False)
        batch_op.drop_column("published")
