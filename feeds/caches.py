"""What one build prepares once per article and shares between feeds and formats.

An article is listed in the root feed, in its category, source and tag feeds and in the
archive pages of each, in three formats. `RenderCache` (on an `ArticleLru`) keeps what a
renderer made of it (the feedgen entry of `render.EntryCache`, the JSON item of
`jsonfeed.ItemCache`) for the other feeds; `TextHandover` hands the cleaned texts made for
an article's XML entry over to its JSON Feed item, rendered right after the XML of the
same feed.

These are plain objects a build creates and passes to the renderers: nothing is kept
between builds or shared between threads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from db.records import StoredArticle
from feeds.common import authors_of, content_of, summary_of, title_of
from feeds.site import SiteInfo

V = TypeVar("V")


def article_key(article: StoredArticle) -> tuple[int, datetime]:
    """An article version: the store moves `updated` on every edit."""
    return article.id, article.updated


class ArticleLru(Generic[V]):
    """Values made from articles, by `article_key`. With a `limit`, the least recently
    used value goes first when it is reached: a first build over a long history writes
    many archive pages, and what it keeps must not grow with them."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._values: dict[tuple[int, datetime], V] = {}

    def __len__(self) -> int:
        return len(self._values)

    def get(self, article: StoredArticle, make: Callable[[StoredArticle], V]) -> V:
        """The value kept for `article`, else `make(article)`, kept from now on."""
        key = article_key(article)
        values = self._values
        found = values.pop(key, None) if self.limit is not None else values.get(key)
        if found is None:
            found = make(article)
            if self.limit is not None and len(values) >= self.limit:
                del values[next(iter(values))]  # the least recently used
        values[key] = found  # last: the most recently used
        return found


@dataclass(frozen=True, slots=True)
class ArticleTexts:
    """An article's texts as every format publishes them (`feeds.common`)."""

    title: str
    authors: tuple[str, ...]
    summary: str
    # Sanitized HTML with absolute URLs; "" when it shows nothing.
    content: str


def texts_of(article: StoredArticle, site_link: str) -> ArticleTexts:
    return ArticleTexts(
        title=title_of(article),
        authors=tuple(authors_of(article)),
        summary=summary_of(article),
        content=content_of(article, site_link),
    )


class TextHandover:
    """Texts made for one format of an article, kept until the other asks for them.

    Sanitizing and cleaning the content is the largest part of preparing an article, and
    a build needs it twice: for the XML entry (RSS and Atom share it) and for the JSON
    Feed item, right after. A result is kept until it is asked for again, then handed
    over and forgotten, so what is held stays about one feed's items; `limit` bounds what
    is never asked for again (the oldest goes first).
    """

    def __init__(self, site_link: str, limit: int = 1024) -> None:
        self.site_link = site_link
        self.limit = limit
        self._kept: dict[tuple[int, datetime], ArticleTexts] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def texts(self, article: StoredArticle) -> ArticleTexts:
        key = article_key(article)
        found = self._kept.pop(key, None)
        if found is not None:
            return found
        made = texts_of(article, self.site_link)
        if len(self._kept) >= self.limit:
            del self._kept[next(iter(self._kept))]  # the oldest
        self._kept[key] = made
        return made


def texts_for(
    article: StoredArticle, site_link: str, handover: TextHandover | None
) -> ArticleTexts:
    """The article's texts through `handover` when there is one for this site."""
    if handover is None or handover.site_link != site_link:
        return texts_of(article, site_link)
    return handover.texts(article)


class RenderCache(ABC, Generic[V]):
    """What one renderer makes of each article for `site` in one build, shared by every
    feed listing the article (an `ArticleLru`, bounded by `limit`: a value holds the
    article's texts). `texts`, when given, is the build's `TextHandover`. A subclass says
    what it makes, in `make`."""

    def __init__(
        self, site: SiteInfo, limit: int | None = None, texts: TextHandover | None = None
    ) -> None:
        self.site = site
        self.texts = texts
        self._values: ArticleLru[V] = ArticleLru(limit)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def limit(self) -> int | None:
        return self._values.limit

    def get(self, article: StoredArticle) -> V:
        return self._values.get(article, self._make)

    def _make(self, article: StoredArticle) -> V:
        return self.make(article, texts_for(article, self.site.link, self.texts))

    @abstractmethod
    def make(self, article: StoredArticle, texts: ArticleTexts) -> V:
        """What the renderer makes of `article`, from its `texts`."""
