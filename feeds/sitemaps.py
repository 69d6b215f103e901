"""`sitemap.xml`, `sitemap-news.xml` and `robots.txt` of the site.

`sitemap.xml` is an index of parts that together list every page people should find
(home, section pages, article pages; not the excerpt pages of remote articles, which are
`noindex`) with its `lastmod`: `sitemap-pagine.xml` the home and section pages, and
`sitemap-<yyyy>-<mm>.xml` the article pages of each month of addresses, so that a new
article changes only its month's part and the index. A part past `MAX_URLS` (the
protocol's limit per file) is split into `sitemap-<group>-1.xml`, `-2.xml`...
`sitemap-news.xml` follows Google News: the article pages published in the last
`NEWS_WINDOW`, each with its publication's name and language, date and title. Both are
built with lxml, in a fixed order, so equal input gives equal bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from db.pages import ARTICLES_FOLDER
from feeds.site import SiteInfo

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
SITEMAP = "sitemap.xml"
NEWS_SITEMAP = "sitemap-news.xml"
ROBOTS = "robots.txt"
MAX_URLS = 50_000
SECTIONS_GROUP = "pagine"
# Articles whose address is not of the minted form.
OTHER_GROUP = "altre"
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


def group_of(page_path: str) -> str:
    """The part of `sitemap.xml` listing an article page: the year and month of its
    address (`articoli/<yyyy>/<mm>/...`), which never changes once minted."""
    parts = page_path.split("/")
    if (
        len(parts) == 4
        and parts[0] == ARTICLES_FOLDER
        and parts[1].isdigit()
        and parts[2].isdigit()
    ):
        return f"{parts[1]}-{parts[2]}"
    return OTHER_GROUP


def month_prefix(group: str) -> str | None:
    """The address prefix of the article pages of `group` (None: not a month)."""
    year, _, month = group.partition("-")
    if not (year.isdigit() and month.isdigit()):
        return None
    return f"{ARTICLES_FOLDER}/{year}/{month}/"


def split_parts(
    group: str, entries: Sequence[SitemapEntry], max_urls: int = MAX_URLS
) -> list[tuple[str, Sequence[SitemapEntry]]]:
    """The part files of one group, as (path, entries): `sitemap-<group>.xml`, or past
    `max_urls` entries `sitemap-<group>-1.xml`, `sitemap-<group>-2.xml`..."""
    if len(entries) <= max_urls:
        return [(f"sitemap-{group}.xml", entries)]
    return [
        (f"sitemap-{group}-{n}.xml", entries[start : start + max_urls])
        for n, start in enumerate(range(0, len(entries), max_urls), start=1)
    ]


def render_part(entries: Sequence[SitemapEntry]) -> bytes:
    """One part: a urlset of `entries`."""
    return _urlset(entries)


def render_index(site: SiteInfo, parts: Sequence[tuple[str, str]]) -> bytes:
    """`sitemap.xml`: the index of the parts, given as (path, lastmod)."""
    index = etree.Element(f"{{{SITEMAP_NS}}}sitemapindex", nsmap={None: SITEMAP_NS})  # type: ignore[dict-item]
    for name, lastmod in parts:
        item = etree.SubElement(index, f"{{{SITEMAP_NS}}}sitemap")
        etree.SubElement(item, f"{{{SITEMAP_NS}}}loc").text = site.url(name)
        etree.SubElement(item, f"{{{SITEMAP_NS}}}lastmod").text = lastmod
    return _document(index)


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
