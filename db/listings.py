"""Listings: which categories, sources, tags and authors have articles, how many each
section holds, and cheap counters of the whole store."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from sqlalchemy import ColumnElement, Engine, Integer, Select, bindparam, func, or_, select, true

from db.driver import DriverCursor, compiled_for
from db.records import Label, Section
from db.selection import grouped_counts
from db.tables import (
    ARTICLE_AUTHORS,
    ARTICLE_TAGS,
    ARTICLES,
    AUTHORS,
    CATEGORIES,
    LINKS,
    SOURCES,
    TAGS,
    VISIBLE,
)


def section_counts(
    engine: Engine, *, authors: bool = True, ids: tuple[int, int] | None = None
) -> dict[Section | None, int]:
    """How many articles the store (key None) and each of its sections hold, in six
    grouped COUNTs (authors only when `authors`: a build without author feeds need not
    scan their table). Far cheaper than reading any article: a build tells from it
    which archive pages exist. With `ids` (low, high), only the articles whose id is
    above low and at most high are counted (a range of the primary key).
    """
    within: ColumnElement[bool] = true()
    if ids is not None and ids[0] > 0:
        within = ARTICLES.c.id.between(ids[0] + 1, ids[1])
    elif ids is not None:
        # The whole store up to `high`: `id + 0` keeps SQLite's planner on the grouping
        # indexes; a range on the primary key made it walk the whole table instead.
        within = ARTICLES.c.id + 0 <= ids[1]
    counts: dict[Section | None, int] = {}
    with engine.connect() as connection:
        visible = select(func.count(ARTICLES.c.id)).where(VISIBLE, within)
        counts[None] = int(connection.scalar(visible) or 0)
        for kind, query in grouped_counts():
            if kind == "author" and not authors:
                continue
            for slug, count in connection.execute(query.where(within)):
                counts[Section(kind, str(slug))] = int(count)
    return counts


def _labels(
    engine: Engine, query: Select[Any], values: dict[str, Any] | None = None
) -> list[Label]:
    # Built once, compiled once per kind of database and run on the driver's cursor
    # (`db.driver`): every build asks, and SQLAlchemy's handling of the statement cost
    # more than the query.
    with engine.connect() as connection, closing(DriverCursor(connection)) as cursor:
        rows = cursor.rows(compiled_for(query, connection.dialect), values or {})
    return [Label(name, slug) for name, slug in rows]


_USED_CATEGORY = select(ARTICLES.c.id).where(ARTICLES.c.category_id == CATEGORIES.c.id, VISIBLE)
_CATEGORIES = (
    select(CATEGORIES.c.name, CATEGORIES.c.slug)
    .where(_USED_CATEGORY.exists())
    .order_by(CATEGORIES.c.slug)
)


def categories(engine: Engine) -> list[Label]:
    """Categories that have at least one article, by slug."""
    return _labels(engine, _CATEGORIES)


_OWN = select(ARTICLES.c.id).where(ARTICLES.c.source_id == SOURCES.c.id, VISIBLE).exists()
_LINKED = select(LINKS.c.guid).where(LINKS.c.source_id == SOURCES.c.id).exists()
_SOURCES = select(SOURCES.c.name, SOURCES.c.slug).where(or_(_OWN, _LINKED)).order_by(SOURCES.c.slug)


def sources_with_articles(engine: Engine) -> list[Label]:
    """Sources with at least one article, their own or linked (a story another source
    brought first is listed in both sources' feeds), by slug."""
    return _labels(engine, _SOURCES)


_TAG_USED = (
    select(ARTICLE_TAGS.c.article_id)
    .join(ARTICLES, ARTICLES.c.id == ARTICLE_TAGS.c.article_id)
    .where(ARTICLE_TAGS.c.tag_id == TAGS.c.id, VISIBLE)
    .limit(1)
    .offset(bindparam("skip", type_=Integer))
    .exists()
)
_TAGS = select(TAGS.c.name, TAGS.c.slug).where(_TAG_USED).order_by(TAGS.c.slug)


def tags(engine: Engine, min_articles: int = 1) -> list[Label]:
    """Tags used by at least `min_articles` articles, by slug.

    Every build asks (`feeds.sections.plan_feeds`): a probe of
    `ix_article_tags_tag_published` per tag that stops at its `min_articles`-th row,
    instead of counting every tag's rows (a GROUP BY over all of `article_tags`).
    """
    return _labels(engine, _TAGS, {"skip": max(min_articles, 1) - 1})


_AUTHORS = (
    select(AUTHORS.c.name, AUTHORS.c.slug)
    .join(ARTICLE_AUTHORS, ARTICLE_AUTHORS.c.author_id == AUTHORS.c.id)
    .join(ARTICLES, ARTICLES.c.id == ARTICLE_AUTHORS.c.article_id)
    .where(VISIBLE)
    .group_by(AUTHORS.c.id, AUTHORS.c.name, AUTHORS.c.slug)
    .having(func.count() >= bindparam("least", type_=Integer))
    .order_by(AUTHORS.c.slug)
)


def authors(engine: Engine, min_articles: int = 1) -> list[Label]:
    """Authors signing at least `min_articles` articles, by slug (for author feeds)."""
    return _labels(engine, _AUTHORS, {"least": min_articles})


def article_count(engine: Engine) -> int:
    """How many articles the store holds."""
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(ARTICLES)) or 0)
