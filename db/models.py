"""SQLAlchemy 2 typed models: sources, articles, categories, tags, authors and per-file
fingerprints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.types import UTCDateTime


class Base(DeclarativeBase):
    pass


def _membership(name: str, label: Column[Any], walk: str) -> Table:
    """Which articles a label (tag, author) holds. Each row carries a copy of
    `articles.published` (it never changes once stored), so that "the newest N of a
    label" walks the `walk` index backwards and reads N entries, instead of fetching and
    sorting every article of the label (revisions 0003, 0007). The primary key is
    (article, label), as the migrations made it. Topics keep theirs in
    `topic_articles`, keyed by their walk."""
    article: Column[int] = Column(
        "article_id", ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    return Table(
        name,
        Base.metadata,
        article,
        label,
        Column("published", UTCDateTime, nullable=False),
        Index(walk, label.name, "published", "article_id"),
    )


article_tags = _membership(
    "article_tags",
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    "ix_article_tags_tag_published",
)


# The authors of each article, normalized (revision 0007) so that author feeds are index
# walks like tag feeds: `articles.authors` stays the JSON list shown in the feeds (in its
# order, with its spelling), this table says which `authors` row each name belongs to.
article_authors = _membership(
    "article_authors",
    Column("author_id", ForeignKey("authors.id", ondelete="CASCADE"), primary_key=True),
    "ix_article_authors_author_published",
)


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    location: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(200))
    interval_seconds: Mapped[int] = mapped_column(Integer, default=600)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_fetch: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # Remote sources (revision 0002). `fetch_url` is where a confirmed permanent redirect
    # moved the source; `location` stays what the configuration says.
    fetch_url: Mapped[str | None] = mapped_column(Text)
    url_history: Mapped[list[str]] = mapped_column(JSON, default=list)
    redirect_target: Mapped[str | None] = mapped_column(Text)
    redirect_streak: Mapped[int] = mapped_column(Integer, default=0)
    gone: Mapped[bool] = mapped_column(Boolean, default=False)
    bozo: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    retry_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    min_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    # What set it (revision 0016): "Cache-Control max-age=600", "Expires", "Retry-After",
    # "RSS ttl" or "sy:updatePeriod".
    min_interval_origin: Mapped[str | None] = mapped_column(String(60))
    # `interval = "auto"` (revision 0014): the interval follows how often it publishes.
    interval_auto: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Its bounds (`scheduler.min_interval`, `max_interval`); the upper one also bounds
    # the wait a server may ask for. None: the defaults of `db.schedule`.
    interval_min: Mapped[int | None] = mapped_column(Integer)
    interval_max: Mapped[int | None] = mapped_column(Integer)
    # The interval the last successful poll chose (`db.schedule.interval_in_force`) and
    # why: "configured", "adaptive" or "server" (then `min_interval_origin` says which
    # header or feed element).
    interval_used: Mapped[int | None] = mapped_column(Integer)
    interval_reason: Mapped[str | None] = mapped_column(String(20))
    # A claim on the source by one daemon until `lease_until`; another daemon may take it
    # only after the lease ran out (the first one died or hung).
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Made by an ad-hoc `rassegna ingest PATH|URL`, not by the configuration (revision 0013).
    ad_hoc: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    articles: Mapped[list[Article]] = relationship(back_populates="source")


class _Label:
    """A category, tag or author: a name, and the slug that identifies it."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)


class Category(_Label, Base):
    __tablename__ = "categories"


class Tag(_Label, Base):
    __tablename__ = "tags"


class Author(_Label, Base):
    """A person signing articles, by slug: `Mario Rossi` and `MARIO ROSSI` are one author
    (the first spelling met names it), as tags are."""

    __tablename__ = "authors"


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("source_id", "guid", name="uq_articles_source_guid"),
        # Every feed is "newest first, tie-broken on id"; these keep it an index walk.
        Index("ix_articles_published", "published", "id"),
        Index("ix_articles_category_published", "category_id", "published", "id"),
        Index("ix_articles_source_published", "source_id", "published", "id"),
        # Minting a unique slug probes the taken ones of a section (`db.upsert._unique_slugs`).
        Index("ix_articles_category_slug", "category_id", "slug"),
        Index("ix_articles_source_slug", "source_id", "slug"),
        # Candidates for a cross-source duplicate by title within a window (revision 0008).
        Index("ix_articles_title_key_published", "title_key", "published"),
        # Cross-source duplicates by canonical URL (revision 0009). A hash index on
        # PostgreSQL: a B-tree entry cannot exceed ~2.7 KB and some tracking URLs do.
        Index("ix_articles_url", "url", postgresql_using="hash"),
        Index("ix_articles_page_path", "page_path", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(1000))
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    content_html: Mapped[str] = mapped_column(Text, default="")
    content_text: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    published: Mapped[datetime] = mapped_column(UTCDateTime)
    updated: Mapped[datetime] = mapped_column(UTCDateTime)
    ingested: Mapped[datetime] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(200), default="")
    image_url: Mapped[str | None] = mapped_column(Text)
    # When the source last listed this article (revision 0002); entries that leave the
    # upstream feed keep their old value and follow retention.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Revision 0008 (see `db.dedup`): the title's duplicate look-up key; the digest of what
    # a reader sees (markup-only churn is not an edit); the edits counted in the current
    # 24 h window, capped for remote sources; how many other sources carry the article.
    title_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    visible_hash: Mapped[str | None] = mapped_column(String(64))
    edit_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    edit_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    linked_sources: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The article's page address, minted at first storage and never changed (revision
    # 0010, `db.pages`).
    page_path: Mapped[str | None] = mapped_column(String(300))
    # Taken out of every feed by `rassegna rules apply`, not deleted (revision 0012).
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Where the stored text came from (revision 0011): "feed", or "page" when it was
    # extracted from the article's web page (full text).
    text_source: Mapped[str] = mapped_column(String(8), default="feed", server_default="feed")

    source: Mapped[Source] = relationship(back_populates="articles")
    category: Mapped[Category | None] = relationship()
    # Read-only: `article_tags` rows carry a copy of `published`, which only the store's
    # upsert writes (an ORM-managed secondary would insert rows without it).
    tags: Mapped[list[Tag]] = relationship(secondary=article_tags, order_by=Tag.slug, viewonly=True)


class FileFingerprint(Base):
    """Size, mtime and hash of each file of a files source, so unchanged files are skipped."""

    __tablename__ = "file_fingerprints"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    guid: Mapped[str] = mapped_column(String(1000), primary_key=True)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))


class ArticleLink(Base):
    """The same story reached through another source: (source, guid) points at the article
    stored first, so it is stored and shown once but known to both sources."""

    __tablename__ = "article_links"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    guid: Mapped[str] = mapped_column(String(1000), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # This source's own URL for the story (revision 0008), shown beside the article.
    url: Mapped[str | None] = mapped_column(Text)


class Topic(Base):
    """A configured topic feed (revision 0004): its definition and a digest of it, so a
    new or edited topic is back-filled once, not on every start."""

    __tablename__ = "topics"

    slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[str] = mapped_column(Text)  # JSON: query, exclude, filters
    digest: Mapped[str] = mapped_column(String(64))


topic_articles = Table(
    "topic_articles",
    Base.metadata,
    Column("topic_slug", ForeignKey("topics.slug", ondelete="CASCADE"), nullable=False),
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("published", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("topic_slug", "published", "article_id", name="topic_articles_pkey"),
    Index("ix_topic_articles_article", "article_id"),
    sqlite_with_rowid=False,
)
"""Which articles each topic holds (revision 0004), filled at ingest time by matching only
the new and changed articles. `published` copies the article's so that a topic feed, the
newest N of a topic, walks the primary key (topic_slug, published, article_id) backwards
and reads N entries (revision 0018): the key is the walk, so a membership is written to
fewer B-trees than a tag's, and on SQLite the table is stored WITHOUT ROWID, in that
order. `ix_topic_articles_article` serves an upsert's read of an article's topics, the
delete of one membership by (topic_slug, article_id), and the cascade from a deleted
article.

(topic_slug, article_id) is unique although the key does not say so: an article's
`published` is written once, when it is first stored (`db.upsert`: an edit keeps it,
`_article_values` never writes it), every membership copies it from the article, and
`db.topics` inserts only the (topic, article) pairs an article does not already have
(`match_topics`) or a topic's rows after deleting all of them (`backfill_topic`). A
path that changed a stored article's `published` would have to rewrite its memberships
too."""


class BlockedEntry(Base):
    """An entry a keep/block rule kept out of the store (revision 0012), remembered so the
    next poll does not count it as new again."""

    __tablename__ = "blocked_entries"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    guid: Mapped[str] = mapped_column(String(1000), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="", server_default="")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    blocked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FetchedPage(Base):
    """An article page fetched for the full text of a feed entry (revision 0011): what it
    yielded, and the validators and entry fingerprint that decide whether it is fetched
    again (only when the entry was edited or its link changed)."""

    __tablename__ = "fetched_pages"
    __table_args__ = (UniqueConstraint("source_id", "url_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    url_key: Mapped[str] = mapped_column(String(64))  # sha256 of the URL
    url: Mapped[str] = mapped_column(Text)
    entry_hash: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    ok: Mapped[bool] = mapped_column(Boolean)
    content_html: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(Text, default="")  # extractor, or why it failed
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Revision 0015: tries of a page that keeps failing (bounded), and what a site rule
    # found besides the body.
    tries: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Counter(Base):
    """What happened to one source in one hour (`span` "h") or one day (`span` "d")
    (revision 0014): articles stored and fetches by outcome, added to as they happen so
    the status page never counts articles; rows older than `db.counters.KEEP` go."""

    __tablename__ = "counters"
    # Covering: the status page reads every source's recent rows as one index range.
    __table_args__ = (
        Index(
            "ix_counters_span_bucket",
            "span",
            "bucket",
            "source_id",
            "stored",
            "fetch_new",
            "fetch_same",
            "fetch_error",
        ),
    )

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    span: Mapped[str] = mapped_column(String(1), primary_key=True)
    # Hours or days since the Unix epoch (`db.counters.hour_of` / `day_of`): plain
    # integers, cheap to read by the thousand and the same on both databases.
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    stored: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fetch_new: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fetch_same: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fetch_error: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CounterTotal(Base):
    """Articles all sources stored in one hour or day (revision 0014), kept beside
    `counters` so the status page's totals chart reads one row per bar."""

    __tablename__ = "counter_totals"

    span: Mapped[str] = mapped_column(String(1), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    stored: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Build(Base):
    """One build of the feeds and pages (revision 0014), for the status page."""

    __tablename__ = "builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    seconds: Mapped[float] = mapped_column(Float)
    written: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    feeds: Mapped[int] = mapped_column(Integer, default=0)


class Revision(Base):
    """A named counter other processes compare to know that something they cached changed
    (revision 0017): `hidden` goes up each time articles are hidden or shown again."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
