"""Which articles a section holds: the one place that knows how each kind of section
(the whole store, a category, source, tag, topic or author) maps to tables and indexes.

Change stamps (`db.stamps`), feed reads and keyset pages (`db.reads`) and section counts
(`db.listings`) all select through here, so a feed, its stamps, its archive pages and
their numbering can never disagree on what a section is. The other way round, the tag,
author and topic sections one article is in (`label_slugs`) are read here too, for the
stamps of its page (`db.pages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, ScalarSelect, Select, bindparam, func, select

from db.records import SectionKind
from db.tables import (
    ARTICLE_AUTHORS,
    ARTICLE_TAGS,
    ARTICLES,
    AUTHORS,
    CATEGORIES,
    SOURCES,
    TAGS,
    TOPIC_ARTICLES,
    VISIBLE,
)

SLUG: BindParameter[str] = bindparam("slug")
"""Where a section's slug is bound in the statements below."""


@dataclass(frozen=True, slots=True)
class Walk:
    """The articles of one section: `query` (unordered, hidden articles skipped, the slug
    bound as `slug`) and the (published, id) columns of the index it walks, newest first
    when ordered by both descending."""

    query: Select[Any]
    published: ColumnElement[Any]
    ident: ColumnElement[Any]

    def newest_first(self) -> Select[Any]:
        return self.query.order_by(self.published.desc(), self.ident.desc())


def _label_id(table: Any) -> Any:
    return select(table.c.id).where(table.c.slug == SLUG).scalar_subquery()


def section_walks(
    columns: Sequence[ColumnElement[Any]], *, hidden_too: bool = False
) -> dict[SectionKind | None, Walk]:
    """`columns` of the articles of each kind of section (None: the whole store), hidden
    articles left out unless `hidden_too`.

    Every one is an index walk: `ix_articles_published`, `ix_articles_category_published`,
    `ix_articles_source_published`, and for a tag `ix_article_tags_tag_published` (the
    article's `published` is copied into `article_tags` so that the walk happens there,
    not over every article of the tag followed by a sort; likewise
    `ix_article_authors_author_published`, and for a topic the primary key of
    `topic_articles`, (topic_slug, published, article_id)). A source's walk holds its own
    articles only: `db.stamps` adds those it also brought.
    """
    a = ARTICLES.c
    base = select(*columns) if hidden_too else select(*columns).where(VISIBLE)

    def through(link: Any, article_id: ColumnElement[Any]) -> Select[Any]:
        return base.select_from(link).join(ARTICLES, a.id == article_id)

    return _walks(base, through)


def section_id_walks() -> dict[SectionKind | None, Walk]:
    """The ids of the articles of each kind of section, hidden ones included: each walk
    reads its index alone, never a row of `articles` (where the `hidden` flag sits, past
    the article's texts); a tag, topic or author walk takes the ids from its link rows."""
    base = select(ARTICLES.c.id)

    def through(link: Any, article_id: ColumnElement[Any]) -> Select[Any]:
        return select(article_id).select_from(link)

    return _walks(base, through)


def _walks(base: Select[Any], through: Any) -> dict[SectionKind | None, Walk]:
    """Each kind of section's walk from `base` (over `articles`) and `through(link table,
    its article id column)`."""
    a, at, ta, aa = ARTICLES.c, ARTICLE_TAGS.c, TOPIC_ARTICLES.c, ARTICLE_AUTHORS.c
    return {
        None: Walk(base, a.published, a.id),
        "category": Walk(
            base.join(CATEGORIES, CATEGORIES.c.id == a.category_id).where(
                CATEGORIES.c.slug == SLUG
            ),
            a.published,
            a.id,
        ),
        "source": Walk(base.where(a.source_id == _label_id(SOURCES)), a.published, a.id),
        "tag": Walk(
            through(ARTICLE_TAGS, at.article_id).where(at.tag_id == _label_id(TAGS)),
            at.published,
            at.article_id,
        ),
        "topic": Walk(
            through(TOPIC_ARTICLES, ta.article_id).where(ta.topic_slug == SLUG),
            ta.published,
            ta.article_id,
        ),
        "author": Walk(
            through(ARTICLE_AUTHORS, aa.article_id).where(aa.author_id == _label_id(AUTHORS)),
            aa.published,
            aa.article_id,
        ),
    }


def grouped_counts() -> tuple[tuple[SectionKind, Select[Any]], ...]:
    """(section kind, SELECT slug, count) of every kind of section, counting what its
    walk holds (archive pages are numbered from these counts)."""
    a = ARTICLES.c

    def own(table: Any, label_id: ColumnElement[Any]) -> Select[Any]:
        return (
            select(table.c.slug, func.count(a.id))
            .join(ARTICLES, label_id == table.c.id)
            .where(VISIBLE)
            .group_by(table.c.slug)
        )

    def linked(table: Any, link: Any, label_id: ColumnElement[Any]) -> Select[Any]:
        return (
            select(table.c.slug, func.count(link.c.article_id))
            .join(link, label_id == table.c.id)
            .join(ARTICLES, a.id == link.c.article_id)
            .where(VISIBLE)
            .group_by(table.c.slug)
        )

    topic = TOPIC_ARTICLES.c.topic_slug
    return (
        ("category", own(CATEGORIES, a.category_id)),
        ("source", own(SOURCES, a.source_id)),
        ("tag", linked(TAGS, ARTICLE_TAGS, ARTICLE_TAGS.c.tag_id)),
        (
            "topic",
            select(topic, func.count())
            .join(ARTICLES, a.id == TOPIC_ARTICLES.c.article_id)
            .where(VISIBLE)
            .group_by(topic),
        ),
        ("author", linked(AUTHORS, ARTICLE_AUTHORS, ARTICLE_AUTHORS.c.author_id)),
    )


# Between the slugs of one article in one aggregated column: never part of a slug.
_SEPARATOR = "\n"


def _slugs(label: Any, *joined: ColumnElement[bool]) -> ScalarSelect[Any]:
    """The slugs of one article's labels in one column (`label` is the slug column)."""
    return select(func.aggregate_strings(label, _SEPARATOR)).where(*joined).scalar_subquery()


def label_slugs(article_id: ColumnElement[Any]) -> tuple[ScalarSelect[Any], ...]:
    """The slugs of the tags, the authors and the topics of the article `article_id` (a
    column of the enclosing query), three columns of slugs joined in any order: what
    `split_slugs` reads."""
    at, aa, ta = ARTICLE_TAGS.c, ARTICLE_AUTHORS.c, TOPIC_ARTICLES.c
    return (
        _slugs(TAGS.c.slug, at.article_id == article_id, TAGS.c.id == at.tag_id),
        _slugs(AUTHORS.c.slug, aa.article_id == article_id, AUTHORS.c.id == aa.author_id),
        _slugs(ta.topic_slug, ta.article_id == article_id),
    )


def split_slugs(joined: str | None) -> tuple[str, ...]:
    """The slugs of one column of `label_slugs`, sorted."""
    return tuple(sorted(joined.split(_SEPARATOR))) if joined else ()
