"""`sitemap.xml`, `sitemap-news.xml` and `robots.txt` of the site.

`sitemap.xml` lists every page people should find (home, section pages, article pages;
not the excerpt pages of remote articles, which are `noindex`) with its `lastmod`. Past
`MAX_URLS` it becomes a sitemap index of `sitemap-1.xml`, `sitemap-2.xml`... (the
protocol's limit per file). `sitemap-news.xml` follows Google News: the article pages
published in the last `NEWS_WINDOW`, each with its publication's name and language, date
and title. Both are built with lxml, in a fixed order, so equal input gives equal bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from feeds.site import SiteInfo

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
SITEMAP = "sitemap.xml"
NEWS_SITEMAP = "sitemap-news.xml"
ROBOTS = "robots.txt"
MAX_URLS = 50_000
NEWS_WINDOW = timedelta(hours=48)
# Google News reads at most this many URLs of one news sitemap.
MAX_NEWS = 1_000


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    loc: str
    lastmod: str  # W3C datetime


@dataclass(frozen=True, slots=True)
class NewsEntry:
    loc: str
    published: str  # W3C datetime
    title: str


def _document(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, pretty_print=True, encoding="UTF-8", xml_declaration=True))


def _urlset(entries: Sequence[SitemapEntry]) -> bytes:
    urlset = etree.Element(f"{{{SITEMAP_NS}}}urlset", nsmap={None: SITEMAP_NS})  # type: ignore[dict-item]
    for entry in entries:
        url = etree.SubElement(urlset, f"{{{SITEMAP_NS}}}url")
        etree.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = entry.loc
        etree.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = entry.lastmod
    return _document(urlset)


def part_name(number: int) -> str:
    return f"sitemap-{number}.xml"


def render_sitemaps(
    site: SiteInfo, entries: Sequence[SitemapEntry], max_urls: int = MAX_URLS
) -> list[tuple[str, bytes]]:
    """`sitemap.xml` (a urlset, or past `max_urls` an index of `sitemap-<n>.xml` parts)
    and its parts, as (path, bytes)."""
    if len(entries) <= max_urls:
        return [(SITEMAP, _urlset(entries))]
    parts = [entries[i : i + max_urls] for i in range(0, len(entries), max_urls)]
    index = etree.Element(f"{{{SITEMAP_NS}}}sitemapindex", nsmap={None: SITEMAP_NS})  # type: ignore[dict-item]
    files = []
    for number, part in enumerate(parts, start=1):
        name = part_name(number)
        files.append((name, _urlset(part)))
        item = etree.SubElement(index, f"{{{SITEMAP_NS}}}sitemap")
        etree.SubElement(item, f"{{{SITEMAP_NS}}}loc").text = site.url(name)
        etree.SubElement(item, f"{{{SITEMAP_NS}}}lastmod").text = max(e.lastmod for e in part)
    return [(SITEMAP, _document(index)), *files]


def render_news_sitemap(site: SiteInfo, entries: Sequence[NewsEntry]) -> bytes:
    """The Google News sitemap of `entries` (the newest `MAX_NEWS` are kept)."""
    urlset = etree.Element(f"{{{SITEMAP_NS}}}urlset", nsmap={None: SITEMAP_NS, "news": NEWS_NS})  # type: ignore[dict-item]
    name = site.title.strip() or site.base_url
    for entry in entries[:MAX_NEWS]:
        url = etree.SubElement(urlset, f"{{{SITEMAP_NS}}}url")
        etree.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = entry.loc
        news = etree.SubElement(url, f"{{{NEWS_NS}}}news")
        publication = etree.SubElement(news, f"{{{NEWS_NS}}}publication")
        etree.SubElement(publication, f"{{{NEWS_NS}}}name").text = name
        etree.SubElement(publication, f"{{{NEWS_NS}}}language").text = "it"
        etree.SubElement(news, f"{{{NEWS_NS}}}publication_date").text = entry.published
        etree.SubElement(news, f"{{{NEWS_NS}}}title").text = entry.title
    return _document(urlset)


def render_robots(site: SiteInfo) -> bytes:
    """Everything may be crawled; both sitemaps are named."""
    return (
        "User-agent: *\n"
        "Allow: /\n"
        f"Sitemap: {site.url(SITEMAP)}\n"
        f"Sitemap: {site.url(NEWS_SITEMAP)}\n"
    ).encode()


def news_cutoff(now: datetime) -> datetime:
    return now - NEWS_WINDOW
