"""Our one wrapper around feedgen: RSS 2.0 and Atom 1.0 documents for one feed.

feedgen (1.0.0, unreleased since 2023) builds the documents; this module works around its
traps, each with a test in `tests/test_feeds_render.py`:

1. Feed and entry `updated` default to now(), so output would change on every build: we
   always set them, from the items (`common.newest_update`), never from the clock.
2. The RSS channel `<link>` is the *last* link added: the alternate site link is always
   added last, after `self` and `hub`.
3. Its RFC 822 dates (`pubDate`, `lastBuildDate`) go through `formatRFC2822`, which calls
   `locale.setlocale` (process-wide, not thread-safe): we never hand feedgen an RSS date;
   we write those elements ourselves with English names (`common.rfc822`).
4. The syndication extension writes `sy:UpdatePeriod` (wrong case): we write
   `sy:updatePeriod`/`sy:updateFrequency` ourselves.
5. Atom enclosures lose rel/type/length and turn into a second alternate link (upstream
   bug): we write the enclosure links of both formats ourselves.
6. `content(type='CDATA')` writes an invalid Atom `type="CDATA"`: content is always
   passed as `type="html"` (escaped text, which RSS readers read the same way).
7. `add_entry` prepends by default, reversing the order: we always append.
8. The media extension wraps single items in `media:group`: not loaded (we use no media
   elements; the lead image is an enclosure).
9. feedgen only writes `atom:link rel="self"` in RSS: the hub and RFC 5005 archive links
   (`prev-archive`, `next-archive`, `current`) and `<fh:archive/>` are written by our
   extensions.
10. Empty content still makes an element (`<content type="html"/>`, which the W3C
    validator calls blank), and `description(isSummary=False)` sets the Atom content too:
    an article without content gets no content element (`_set_texts`).
11. Atom `updated` is written from a datetime: ours carries nanoseconds from the
    article's id (`common.atom_updated`), so its text is set on the element afterwards.
"""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from db.records import StoredArticle
from feeds.caches import ArticleTexts, RenderCache
from feeds.common import (
    article_link,
    atom_updated,
    local,
    newest_atom_updated,
    newest_update,
    one_line,
    rfc822,
    rfc3339_exact,
    updated_of,
    web_image_of,
)
from feeds.sections import FeedSpec
from feeds.site import SiteInfo
from feeds.xsl import with_stylesheet

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
SY_NS = "http://purl.org/rss/1.0/modules/syndication/"
FH_NS = "http://purl.org/syndication/history/1.0"
_FH_ARCHIVE = f"{{{FH_NS}}}archive"
_ATOM_LINK = f"{{{ATOM_NS}}}link"
_DC_CREATOR = f"{{{DC_NS}}}creator"
_DC_LANGUAGE = f"{{{DC_NS}}}language"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"
JSON_TYPE = "application/feed+json"
GENERATOR = "rassegna"

# The name-mangled attribute behind feedgen's RSS `lastBuildDate` (trap 3). Checked at
# import so a feedgen release that renames it fails loudly instead of calling setlocale.
_LAST_BUILD_ATTR = "_FeedGenerator__rss_lastBuildDate"
if not hasattr(FeedGenerator(), _LAST_BUILD_ATTR):  # pragma: no cover - feedgen changed
    raise ImportError("feedgen changed: feeds.render must be updated for its RSS dates")

_PERIODS = (
    ("hourly", 3600),
    ("daily", 86400),
    ("weekly", 7 * 86400),
    ("monthly", 30 * 86400),
    ("yearly", 365 * 86400),
)


def update_schedule(interval_seconds: int) -> tuple[str, int]:
    """`sy:updatePeriod` and `sy:updateFrequency` for a polling interval."""
    for period, seconds in _PERIODS:
        if interval_seconds <= seconds:
            return period, max(1, round(seconds / interval_seconds))
    return "yearly", 1


def ttl_minutes(interval_seconds: int) -> int:
    return max(1, -(-interval_seconds // 60))


@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    type: str
    length: str = "0"  # the size is not stored yet; RSS readers accept 0 for "unknown"


def enclosure_of(article: StoredArticle) -> Enclosure | None:
    """The lead image as an enclosure, when it is a web URL (`common.web_image_of`) and
    its media type can be told from it."""
    url = web_image_of(article)
    if url is None:
        return None
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    if guessed is None or not guessed.startswith("image/"):
        return None
    return Enclosure(url=url, type=guessed)


@dataclass(frozen=True, slots=True)
class RenderedXml:
    rss: bytes
    atom: bytes


@dataclass(frozen=True, slots=True)
class History:
    """RFC 5005 (feed paging and archiving) links of one document.

    Each is the `FeedSpec` of another document, so every format links to its own kind
    (RSS to RSS, Atom to Atom, JSON Feed `next_url` to JSON). `archive` marks an archive
    document (`<fh:archive/>`); `current` is then the subscription feed.
    """

    archive: bool = False
    current: FeedSpec | None = None
    prev_archive: FeedSpec | None = None
    next_archive: FeedSpec | None = None

    def links(self) -> list[tuple[str, FeedSpec]]:
        """(rel, spec) pairs in a fixed order, for stable bytes."""
        pairs = (
            ("current", self.current),
            ("prev-archive", self.prev_archive),
            ("next-archive", self.next_archive),
        )
        return [(rel, spec) for rel, spec in pairs if spec is not None]


NO_HISTORY = History()


class _ChannelExtension(BaseExtension):  # type: ignore[misc]
    """Writes the channel elements feedgen gets wrong or lacks (traps 3, 4 and 9)."""

    def __init__(self) -> None:
        self.last_build = ""
        self.period = "hourly"
        self.frequency = 1
        self.hubs: tuple[str, ...] = ()
        self.archive = False
        self.history_links: list[tuple[str, str]] = []  # (rel, absolute RSS URL)

    def extend_ns(self) -> dict[str, str]:
        # fh only where used: declaring it everywhere would change every existing file.
        if self.archive or self.history_links:
            return {"dc": DC_NS, "sy": SY_NS, "fh": FH_NS}
        return {"dc": DC_NS, "sy": SY_NS}

    def extend_rss(self, rss_feed: Any) -> Any:
        channel = rss_feed[0]
        etree.SubElement(channel, "lastBuildDate").text = self.last_build
        etree.SubElement(channel, f"{{{SY_NS}}}updatePeriod").text = self.period
        etree.SubElement(channel, f"{{{SY_NS}}}updateFrequency").text = str(self.frequency)
        for hub in self.hubs:
            etree.SubElement(channel, _ATOM_LINK, href=hub, rel="hub")
        for rel, href in self.history_links:
            etree.SubElement(channel, _ATOM_LINK, href=href, rel=rel, type=RSS_TYPE)
        if self.archive:
            etree.SubElement(channel, _FH_ARCHIVE)
        return rss_feed


class _AtomFeedExtension(BaseExtension):  # type: ignore[misc]
    """The feed's `updated` to the nanosecond (trap 11) and `<fh:archive/>` in an Atom
    archive document (feedgen has no such element)."""

    def __init__(self) -> None:
        self.updated = ""
        self.archive = False

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS} if self.archive else {}

    def extend_atom(self, atom_feed: Any) -> Any:
        updated = atom_feed.find("updated")
        if updated is not None:
            updated.text = self.updated
        if self.archive:
            etree.SubElement(atom_feed, _FH_ARCHIVE)
        return atom_feed


# feedgen's (name-mangled) entry fields holding an article's text, read only while the
# entry's RSS and Atom elements are built.
_ATOM_CONTENT = "_FeedEntry__atom_content"
_LONG_FIELDS = (
    _ATOM_CONTENT,
    "_FeedEntry__atom_summary",
    "_FeedEntry__rss_content",
    "_FeedEntry__rss_description",
)
if not all(hasattr(FeedEntry(), name) for name in _LONG_FIELDS):  # pragma: no cover
    raise ImportError("feedgen changed: feeds.render must be updated for its entry fields")


class _Entry(FeedEntry):  # type: ignore[misc]
    """A feedgen entry plus the elements we write ourselves (dates, creators, enclosure)."""

    def __init__(
        self,
        pub_date: str,
        published: str,
        updated: str,
        creators: list[str],
        enclosure: Enclosure | None,
        language: str | None = None,
        related: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__()
        # Atom `link rel="related"` (href, title): the other sources' pages for the same
        # story (`common.also_on_html`). Written here: feedgen drops the rel of every link.
        self._related = tuple(related)
        # Set only when it differs from the feed's, as xml:lang / dc:language.
        self._language = language
        self._pub_date = pub_date
        self._published = published
        self._updated = updated
        self._creators = creators
        self._enclosure = enclosure
        # The elements are the same in every feed listing the article: built once, then
        # handed to each feed as they are. Appending an lxml element moves it into the new
        # document (and out of the previous feed's, serialized already), so no copy is
        # needed: copying each one for every feed cost a sixth of a full build. Each feed
        # lists an article once, so an element is never wanted twice in one document.
        self._rss: Any = None
        self._atom: Any = None

    def rss_entry(self, extensions: bool = True) -> Any:
        if self._rss is None:
            item = super().rss_entry(extensions)
            etree.SubElement(item, "pubDate").text = self._pub_date
            # dc:creator, not <author>, which RSS wants as an e-mail address.
            for name in self._creators:
                etree.SubElement(item, _DC_CREATOR).text = name
            if self._enclosure is not None:
                enc = self._enclosure
                etree.SubElement(item, "enclosure", url=enc.url, length=enc.length, type=enc.type)
            if self._language is not None:
                etree.SubElement(item, _DC_LANGUAGE).text = self._language
            self._rss = item
            self._release()
        return self._rss

    def atom_entry(self, extensions: bool = True) -> Any:
        if self._atom is None:
            entry = super().atom_entry(extensions)
            entry.find("updated").text = self._updated  # trap 11
            etree.SubElement(entry, "published").text = self._published
            if self._language is not None:
                entry.set(_XML_LANG, self._language)
            if self._enclosure is not None:
                enc = self._enclosure
                etree.SubElement(
                    entry, "link", rel="enclosure", href=enc.url, type=enc.type, length=enc.length
                )
            for href, title in self._related:
                etree.SubElement(entry, "link", rel="related", href=href, title=title)
            self._atom = entry
            self._release()
        return self._atom

    def _release(self) -> None:
        """Once both elements exist, drop feedgen's copies of the long texts: only the
        elements are used from then on, and a build keeps many entries (`EntryCache`)."""
        if self._rss is not None and self._atom is not None:
            for name in _LONG_FIELDS:
                setattr(self, name, None)


class EntryCache(RenderCache[_Entry]):
    """The feedgen entries of one build (`caches.RenderCache`). An article sits in the
    root feed and in its category, source and tag feeds, and in the archive pages of
    each; its entry is prepared once, by id and `updated`, and its texts go on to the JSON
    Feed item through the build's `TextHandover`."""

    def make(self, article: StoredArticle, texts: ArticleTexts) -> _Entry:
        return _make_entry(self.site, article, texts)


def _make_entry(site: SiteInfo, article: StoredArticle, texts: ArticleTexts) -> _Entry:
    tz = site.tz
    creators = list(texts.authors)
    entry = _Entry(
        pub_date=rfc822(article.published, tz),
        published=rfc3339_exact(article.published, tz),
        updated=atom_updated(article, tz),
        creators=creators,
        enclosure=enclosure_of(article),
        language=article.language if article.language not in (None, site.language) else None,
        related=[
            (ref.url, one_line(ref.name) or ref.slug)
            for ref in article.also_on
            if ref.url and ref.url != article.url
        ],
    )
    entry.id(article.uid)  # also the RSS guid, isPermaLink="false"
    entry.title(texts.title)
    entry.link(href=article_link(article, site.base_url, site.link), rel="alternate")
    entry.updated(local(updated_of(article), tz))  # trap 1; its text is set later (11)
    _set_texts(entry, texts.summary, texts.content)
    entry.author([{"name": name} for name in creators] or [{"name": site.author_name}])
    categories: list[dict[str, str]] = []
    if article.category is not None:
        categories.append(
            {
                "term": article.category.slug,
                "label": one_line(article.category.name) or article.category.slug,
                "scheme": site.url("categoria/"),
            }
        )
    for tag in article.tags:
        categories.append(
            {"term": tag.slug, "label": one_line(tag.name) or tag.slug, "scheme": site.url("tag/")}
        )
    if categories:
        entry.category(categories)
    return entry


def _set_texts(entry: _Entry, summary: str, content: str) -> None:
    """The summary (Atom summary, RSS description; `summary_of` is never blank) and the
    content (Atom content, RSS content:encoded), left out when empty (trap 10)."""
    # Order matters: summary() sets the Atom summary (plain text) and the RSS description;
    # description() then replaces the RSS one with the summary escaped once, because RSS
    # readers read it as HTML (it also sets the Atom content).
    entry.summary(summary)
    entry.description(html.escape(summary, quote=False), isSummary=False)
    if content:
        entry.content(content, type="html")  # trap 6; replaces the Atom content above
    else:
        # Without content, RSS has the description alone and Atom no content element (the
        # entry's alternate link is what RFC 4287 then asks for).
        setattr(entry, _ATOM_CONTENT, None)


def render_xml(
    site: SiteInfo,
    spec: FeedSpec,
    articles: Sequence[StoredArticle],
    cache: EntryCache | None = None,
    history: History = NO_HISTORY,
) -> RenderedXml:
    """The RSS 2.0 and Atom 1.0 documents of one feed, from its articles newest first.

    The entries are built once and serialized twice; only the links differ. Pass the same
    `cache` to every call of one build to prepare each article only once. `history`
    gives the RFC 5005 links of a paged or archive document.
    """
    if cache is None or cache.site != site:
        cache = EntryCache(site)
    fg = FeedGenerator()
    fg.register_extension("rassegna", _ChannelExtension, None, atom=False, rss=True)
    fg.register_extension("rassegna_atom", _AtomFeedExtension, None, atom=True, rss=False)
    atom_feed: _AtomFeedExtension = fg.rassegna_atom
    atom_feed.archive = history.archive
    atom_feed.updated = newest_atom_updated(articles, site.tz)
    history_links = history.links()
    title = one_line(spec.title) or site.title
    description = one_line(spec.description) or title
    fg.id(site.url(spec.atom_path))
    fg.title(title)
    fg.description(description)  # RSS description and Atom subtitle
    fg.language(site.language)
    fg.author({"name": site.author_name})
    fg.generator(GENERATOR)  # no version: a feedgen upgrade must not change every file
    fg.ttl(ttl_minutes(site.interval_seconds))
    newest = newest_update(articles)
    fg.updated(local(newest, site.tz))  # trap 1 (Atom); this also sets the RSS date...
    setattr(fg, _LAST_BUILD_ATTR, None)  # ...which feedgen would format with setlocale
    channel: _ChannelExtension = fg.rassegna
    channel.last_build = rfc822(newest, site.tz)
    channel.period, channel.frequency = update_schedule(site.interval_seconds)
    channel.hubs = site.hubs
    channel.archive = history.archive
    channel.history_links = [(rel, site.url(other.rss_path)) for rel, other in history_links]
    for article in articles:
        fg.add_entry(cache.get(article), order="append")  # trap 7

    hubs = [{"href": hub, "rel": "hub"} for hub in site.hubs]
    alternate = {"href": site.link, "rel": "alternate", "type": "text/html"}
    # The alternate link goes last: feedgen makes the last link the RSS <link> (trap 2).
    fg.link(
        [{"href": site.url(spec.rss_path), "rel": "self", "type": RSS_TYPE}, alternate],
        replace=True,
    )
    rss = fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    atom_history = [
        {"href": site.url(other.atom_path), "rel": rel, "type": ATOM_TYPE}
        for rel, other in history_links
    ]
    fg.link(
        [
            {"href": site.url(spec.atom_path), "rel": "self", "type": ATOM_TYPE},
            *hubs,
            *atom_history,
            alternate,
        ],
        replace=True,
    )
    atom = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return RenderedXml(
        rss=with_stylesheet(bytes(rss), site), atom=with_stylesheet(bytes(atom), site)
    )


def render_rss(site: SiteInfo, spec: FeedSpec, articles: Sequence[StoredArticle]) -> bytes:
    return render_xml(site, spec, articles).rss


def render_atom(site: SiteInfo, spec: FeedSpec, articles: Sequence[StoredArticle]) -> bytes:
    return render_xml(site, spec, articles).atom
