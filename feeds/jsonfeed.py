"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1) for one feed, with the json module."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from db.records import StoredArticle
from feeds.common import (
    article_link,
    authors_of,
    clean_text,
    content_of,
    one_line,
    rfc3339,
    summary_of,
    title_of,
    updated_of,
    web_image_of,
)
from feeds.sections import KIND_SOURCE, FeedSpec
from feeds.site import SiteInfo

VERSION = "https://jsonfeed.org/version/1.1"


def _texts(article: StoredArticle, site_link: str) -> dict[str, str]:
    """`summary`, and `content_html`, else `content_text` (JSON Feed needs one of the two,
    and an empty `content_html` says nothing)."""
    summary = summary_of(article)
    content = content_of(article, site_link)
    if content:
        return {"summary": summary, "content_html": content}
    return {"summary": summary, "content_text": clean_text(article.content_text).strip() or summary}


def _item(site: SiteInfo, article: StoredArticle) -> dict[str, Any]:
    tz = site.tz
    link = article_link(article, site.base_url, site.link)
    item: dict[str, Any] = {
        "id": article.uid,
        "url": link,
        "title": title_of(article),
        **_texts(article, site.link),
        "date_published": rfc3339(article.published, tz),
        "date_modified": rfc3339(updated_of(article), tz),
        "authors": [{"name": name} for name in authors_of(article)] or [{"name": site.author_name}],
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
                    "feed_url": site.url(f"{KIND_SOURCE}/{slug}/feed.json"),
                }
                for name, slug, url in (
                    (article.source_name, article.source_slug, article.url),
                    *((r.name, r.slug, r.url) for r in article.also_on),
                )
            ]
        }
    return item


class ItemCache:
    """Serialized JSON Feed items of one build, shared by every feed listing an article;
    `limit` bounds it like `render.EntryCache` (least recently used first)."""

    def __init__(self, site: SiteInfo, limit: int | None = None) -> None:
        self.site = site
        self.limit = limit
        self._items: dict[tuple[int, datetime], str] = {}

    def __len__(self) -> int:
        return len(self._items)

    def item(self, article: StoredArticle) -> str:
        key = (article.id, article.updated)
        items = self._items
        found = items.pop(key, None) if self.limit is not None else items.get(key)
        if found is None:
            found = _dumps(_item(self.site, article))
            if self.limit is not None and len(items) >= self.limit:
                del items[next(iter(items))]  # the least recently used
        items[key] = found  # last: the most recently used
        return found


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
    items = ",".join(cache.item(a) for a in articles)
    return f'{head[:-1]},"items":[{items}]}}\n'.encode()
