"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1) for one feed, with the json module."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from db.records import StoredArticle
from feeds.caches import ArticleTexts, RenderCache
from feeds.common import (
    article_link,
    clean_text,
    one_line,
    rfc3339,
    updated_of,
    web_image_of,
)
from feeds.sections import FeedKind, FeedSpec
from feeds.site import SiteInfo

VERSION = "https://jsonfeed.org/version/1.1"


def _texts(article: StoredArticle, texts: ArticleTexts) -> dict[str, str]:
    """`summary`, and `content_html`, else `content_text` (JSON Feed needs one of the two,
    and an empty `content_html` says nothing)."""
    if texts.content:
        return {"summary": texts.summary, "content_html": texts.content}
    text = clean_text(article.content_text).strip() or texts.summary
    return {"summary": texts.summary, "content_text": text}


def _item(site: SiteInfo, article: StoredArticle, texts: ArticleTexts) -> dict[str, Any]:
    tz = site.tz
    link = article_link(article, site.base_url, site.link)
    item: dict[str, Any] = {
        "id": article.uid,
        "url": link,
        "title": texts.title,
        **_texts(article, texts),
        "date_published": rfc3339(article.published, tz),
        "date_modified": rfc3339(updated_of(article), tz),
        "authors": [{"name": name} for name in texts.authors] or [{"name": site.author_name}],
        "language": article.language or site.language,
    }
    tags = []
    if article.category is not None:
        tags.append(one_line(article.category.name) or article.category.slug)
    tags += [one_line(t.name) or t.slug for t in article.tags]
    if tags:
        item["tags"] = tags
    image = web_image_of(article)
    if image is not None:
        item["image"] = image
    if article.also_on:
        # A JSON Feed extension (a key starting with "_"): every source carrying the story,
        # its own first, each with its page for it and its feed here.
        item["_rassegna"] = {
            "sources": [
                {
                    "name": one_line(name) or slug,
                    "url": url,
                    "feed_url": site.url(f"{FeedKind.SOURCE}/{slug}/feed.json"),
                }
                for name, slug, url in (
                    (article.source_name, article.source_slug, article.url),
                    *((r.name, r.slug, r.url) for r in article.also_on),
                )
            ]
        }
    return item


class ItemCache(RenderCache[str]):
    """Serialized JSON Feed items of one build (`caches.RenderCache`)."""

    def make(self, article: StoredArticle, texts: ArticleTexts) -> str:
        return _dumps(_item(self.site, article, texts))


def _dumps(value: object) -> str:
    # Compact with a fixed key order, so equal input gives equal bytes; `indent` would also
    # switch json to its slow pure-Python encoder.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render_json(
    site: SiteInfo,
    spec: FeedSpec,
    articles: Sequence[StoredArticle],
    cache: ItemCache | None = None,
    next_page: FeedSpec | None = None,
) -> bytes:
    """The JSON Feed 1.1 document of one feed, from its articles newest first.

    Pass the same `cache` to every call of one build to serialize each article once.
    `next_page` is the document with the next older items (JSON Feed's `next_url`, the
    counterpart of RFC 5005's `prev-archive`).
    """
    if cache is None or cache.site != site:
        cache = ItemCache(site)
    document: dict[str, Any] = {
        "version": VERSION,
        "title": one_line(spec.title) or site.title,
        "home_page_url": site.link,
        "feed_url": site.url(spec.json_path),
        "description": one_line(spec.description),
        "language": site.language,
        "authors": [{"name": site.author_name}],
    }
    if next_page is not None:
        document["next_url"] = site.url(next_page.json_path)
    if site.hubs:
        document["hubs"] = [{"type": "WebSub", "url": hub} for hub in site.hubs]
    head = _dumps(document)
    items = ",".join(cache.get(a) for a in articles)
    return f'{head[:-1]},"items":[{items}]}}\n'.encode()
