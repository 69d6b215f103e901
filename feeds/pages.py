"""The site's HTML pages from Jinja2 templates: section, home and search pages, and what
every page shares (`feeds.article_page` builds the article pages on it).

Templates live in `feeds/templates/` (autoescaped); `SiteInfo.templates` names a folder
whose files replace the built-in ones by name. Stored articles become plain view objects
(`Link`, `ListItem`...) handed to the templates, so a template never needs our code and
every value it prints is escaped, except the article body, which is the sanitized HTML
the feeds publish (`feeds.common.published_html`).
Dates are Italian through Babel, in the site's time zone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import get_month_names
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)
from markupsafe import Markup

from db.records import StoredArticle
from db.store import Store
from feeds.common import (
    article_link,
    is_web_url,
    local,
    one_line,
    summary_of,
    title_of,
)
from feeds.render import ATOM_TYPE, JSON_TYPE, RSS_TYPE
from feeds.sections import FeedKind, FeedSpec
from feeds.site import SiteInfo

TEMPLATE_NAMES = (
    "base.html",
    "macros.html",
    "style.css",
    "article.html",
    "section.html",
    "home.html",
    "search.html",
)
INDEX = "index.html"
PAGE_FOLDER = "pagina"
_BUILTIN = Path(__file__).parent / "templates"
# What `italian_datetime` shows, in Babel's notation.
DATE_PATTERN = "d MMMM y, HH:mm"
_GROUPS = (FeedKind.CATEGORY, FeedKind.SOURCE, FeedKind.TOPIC, FeedKind.TAG, FeedKind.AUTHOR)


def italian_datetime(moment: datetime, site: SiteInfo) -> str:
    """`6 dicembre 2026, 08:48` in the site's time zone."""
    return _italian(moment, site.timezone)


# Babel's Italian month names (the "MMMM" of `DATE_PATTERN`), read once.
_MONTHS: dict[int, str] = {
    number: str(name) for number, name in get_month_names("wide", "format", "it_IT").items()
}


@lru_cache(maxsize=8192)
def _italian(moment: datetime, timezone: str) -> str:
    # Cached: one article's date is shown on its page and in every list it is in.
    # `DATE_PATTERN` spelled out: Babel's `format_datetime` parses and walks the pattern
    # for every date, eight times the cost of this, for the same text (tests compare the
    # two over every day and hour of several years and zones).
    shown = local(moment, ZoneInfo(timezone))
    return f"{shown.day} {_MONTHS[shown.month]} {shown.year}, {shown.hour:02d}:{shown.minute:02d}"


def iso(moment: datetime, site: SiteInfo) -> str:
    return local(moment, site.tz).isoformat()


@lru_cache(maxsize=4)
def _environment(folders: tuple[Path, ...], fingerprint: str) -> Environment:
    """The environment of templates whose bytes hash to `fingerprint` (only part of the
    key): a process that builds again and again, as the daemon does, compiles each
    template once; a changed template gives another fingerprint, so a new environment."""
    loaders: list[Any] = [FileSystemLoader(folder) for folder in folders if folder != _BUILTIN]
    loaders.append(PackageLoader("feeds", "templates"))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        # Templates are read once (the fingerprint covers their bytes); checking their
        # files again before every page cost more than rendering.
        auto_reload=False,
    )


class Templates:
    """The Jinja2 environment of a build: built-in templates, overridden by name by the
    files of `SiteInfo.templates`. `fingerprint` hashes every template's bytes, so a
    changed template re-renders every page once."""

    def __init__(self, site: SiteInfo) -> None:
        self.folders: list[Path] = []
        if site.templates:
            self.folders.append(Path(site.templates))
        self.folders.append(_BUILTIN)
        self.fingerprint = self._fingerprint()
        self.env = _environment(tuple(self.folders), self.fingerprint)
        self._loaded: dict[str, Template] = {}

    def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        for folder in self.folders:
            digest.update(str(folder).encode() + b"\x00")
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.is_file():
                    digest.update(path.name.encode() + b"\x00" + path.read_bytes() + b"\x00")
        return digest.hexdigest()

    def render(self, name: str, **context: object) -> bytes:
        template = self._loaded.get(name)
        if template is None:
            template = self._loaded[name] = self.env.get_template(name)
        return template.render(**context).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Alternate:
    """A `<link rel="alternate">` of a page: one of its feeds."""

    type: str
    title: str
    href: str


@dataclass(frozen=True, slots=True)
class Link:
    """A link in a page; with no `href`, its text shows plain."""

    text: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class PageView:
    """What the `<head>` and the breadcrumbs of any page say."""

    head_title: str
    description: str
    canonical: str
    alternates: tuple[Alternate, ...] = ()
    breadcrumbs: tuple[Link, ...] = ()
    noindex: bool = False


@dataclass(frozen=True, slots=True)
class SiteView:
    title: str
    description: str
    language: str
    home: str
    feed_rss: str
    feed_atom: str
    feed_json: str
    opml: str
    nav: tuple[Link, ...] = ()


@lru_cache(maxsize=8)
def site_view(site: SiteInfo) -> SiteView:
    return SiteView(
        title=one_line(site.title),
        description=one_line(site.description),
        language=site.language,
        home=site.url(""),
        feed_rss=site.url("rss.xml"),
        feed_atom=site.url("atom.xml"),
        feed_json=site.url("feed.json"),
        opml=site.url("opml.xml"),
    )


def render_page(
    templates: Templates, site: SiteInfo, name: str, page: PageView, **views: object
) -> bytes:
    """Template `name` for a page whose head and breadcrumbs are `page`, with the site's
    view and the page's own `views` (the template's other variables)."""
    return templates.render(name, site=site_view(site), page=page, **views)


def section_page_path(spec: FeedSpec, number: int) -> str:
    """The output path of page `number` (1 = newest) of a section's listing."""
    folder = spec.folder if number == 1 else spec.path(f"{PAGE_FOLDER}/{number}")
    return f"{folder}/{INDEX}" if folder else INDEX


def section_page_url(site: SiteInfo, spec: FeedSpec, number: int = 1) -> str:
    return site.url(section_page_path(spec, number).removesuffix(INDEX))


class Sections:
    """Which sections have pages in this build, to link labels to them (a tag below
    `min_tag_articles` has no page, so its label is plain text)."""

    def __init__(self, site: SiteInfo, specs: Iterable[FeedSpec]) -> None:
        self.site = site
        self.specs = {(s.kind, s.slug): s for s in specs}
        # Every page links its labels: each section's address is made once per build.
        self.hrefs = {key: section_page_url(site, spec) for key, spec in self.specs.items()}

    def link(self, kind: FeedKind, slug: str, text: str) -> Link:
        return Link(text, self.hrefs.get((kind, slug)))

    def name(self, kind: FeedKind, slug: str) -> str | None:
        spec = self.specs.get((kind, slug))
        return one_line(spec.name) if spec is not None else None

    def linked_keys(self, kind: str) -> set[str]:
        return {slug for k, slug in self.specs if k == kind}


@lru_cache(maxsize=4096)
def name_of(text: str) -> str:
    """`one_line` for names (site, categories, sources, tags): shown on many pages of a
    build, so each is cleaned once."""
    return one_line(text)


@lru_cache(maxsize=8)
def site_alternates(site: SiteInfo) -> tuple[Alternate, ...]:
    title = name_of(site.title)
    return (
        Alternate(RSS_TYPE, f"{title} (RSS)", site.url("rss.xml")),
        Alternate(ATOM_TYPE, f"{title} (Atom)", site.url("atom.xml")),
        Alternate(JSON_TYPE, f"{title} (JSON Feed)", site.url("feed.json")),
    )


def section_alternates(site: SiteInfo, spec: FeedSpec) -> tuple[Alternate, ...]:
    title = name_of(spec.title)
    return (
        Alternate(RSS_TYPE, f"{title} (RSS)", site.url(spec.rss_path)),
        Alternate(ATOM_TYPE, f"{title} (Atom)", site.url(spec.atom_path)),
        Alternate(JSON_TYPE, f"{title} (JSON Feed)", site.url(spec.json_path)),
    )


@dataclass(frozen=True, slots=True)
class ListItem:
    title: str
    href: str
    published_iso: str
    published_text: str
    category: Link | None
    source: str
    summary: str


def list_item(site: SiteInfo, sections: Sections, article: StoredArticle) -> ListItem:
    category = None
    if article.category is not None:
        text = name_of(article.category.name) or article.category.slug
        category = sections.link(FeedKind.CATEGORY, article.category.slug, text)
    return ListItem(
        title=title_of(article),
        href=article_link(article, site.base_url, site.link),
        published_iso=iso(article.published, site),
        published_text=italian_datetime(article.published, site),
        category=category,
        source=name_of(article.source_name),
        summary=summary_of(article),
    )


class ListItems:
    """Articles as section pages list them (`list_item`) for one build, kept across
    sections (an article is listed in its category, source and tag sections), at most
    `LIMIT`, the oldest made going first. `wanted` are the ids the sections list: an
    article `offer`ed (loaded for its own page) is kept when it is one of them."""

    LIMIT = 5000

    def __init__(self, store: Store, site: SiteInfo, sections: Sections, wanted: set[int]) -> None:
        self._store = store
        self._site = site
        self._sections = sections
        self._wanted = wanted
        self._kept: dict[int, ListItem] = {}

    def offer(self, article: StoredArticle) -> None:
        if article.id in self._wanted and len(self._kept) < self.LIMIT:
            self._kept[article.id] = list_item(self._site, self._sections, article)

    def get(self, ids: Sequence[int]) -> dict[int, ListItem]:
        missing = [i for i in dict.fromkeys(ids) if i not in self._kept]
        if missing:
            for i, article in self._store.articles_by_ids(missing).items():
                self._kept[i] = list_item(self._site, self._sections, article)
            while len(self._kept) > self.LIMIT:
                del self._kept[next(iter(self._kept))]
        return {i: self._kept[i] for i in ids if i in self._kept}


class Addressed(Protocol):
    """What tells whether an article has a page: a stored article or its page stamp."""

    @property
    def url(self) -> str | None: ...

    @property
    def page_path(self) -> str: ...


def has_page(article: Addressed, site: SiteInfo) -> bool:
    """Whether an article gets a page of its own here: always without a URL of its own,
    and with one only when `remote_pages` is "excerpt"."""
    if not article.page_path:
        return False
    return not is_web_url(article.url) or site.remote_pages == "excerpt"


@dataclass(frozen=True, slots=True)
class SectionView:
    heading: str
    description: str
    rss: str
    atom: str
    json: str
    items: tuple[ListItem, ...]
    number: int
    pages: tuple[str, ...]  # the URL of every page of the listing
    newer: str | None
    older: str | None


@dataclass(frozen=True, slots=True)
class SectionEntry:
    text: str
    href: str
    rss: str
    atom: str
    json: str


@dataclass(frozen=True, slots=True)
class SectionGroup:
    heading: str
    sections: tuple[SectionEntry, ...]


@dataclass(frozen=True, slots=True)
class HomeView:
    items: tuple[ListItem, ...]
    groups: tuple[SectionGroup, ...]


def render_section(
    templates: Templates,
    site: SiteInfo,
    spec: FeedSpec,
    number: int,
    pages: int,
    items: Sequence[ListItem],
) -> bytes:
    """Page `number` of `pages` listing a section's articles (`list_item`), newest first."""
    urls = tuple(section_page_url(site, spec, n) for n in range(1, pages + 1))
    kind = spec.kind.noun
    name = one_line(spec.name)
    heading = f"{kind}: {name}" if kind else name
    crumbs = [Link("Home", site.url(""))]
    if number > 1:
        crumbs += [Link(heading, urls[0]), Link(f"Pagina {number}")]
    else:
        crumbs.append(Link(heading))
    view = SectionView(
        heading=heading,
        description=one_line(spec.description),
        rss=site.url(spec.rss_path),
        atom=site.url(spec.atom_path),
        json=site.url(spec.json_path),
        items=tuple(items),
        number=number,
        pages=urls,
        newer=urls[number - 2] if number > 1 else None,
        older=urls[number] if number < pages else None,
    )
    suffix = f" (pagina {number})" if number > 1 else ""
    page = PageView(
        head_title=f"{heading}{suffix} – {name_of(site.title)}",
        description=one_line(spec.description),
        canonical=urls[number - 1],
        alternates=section_alternates(site, spec) + site_alternates(site),
        breadcrumbs=tuple(crumbs),
    )
    return render_page(templates, site, "section.html", page, section=view)


def render_home(
    templates: Templates,
    site: SiteInfo,
    specs: Sequence[FeedSpec],
    latest: Sequence[StoredArticle],
) -> bytes:
    """The home page: the latest articles (linking to their pages or originals), then
    every section with its page and its feeds."""
    sections = Sections(site, specs)
    groups = []
    for kind in _GROUPS:
        entries = tuple(
            SectionEntry(
                text=one_line(s.name),
                href=section_page_url(site, s),
                rss=site.url(s.rss_path),
                atom=site.url(s.atom_path),
                json=site.url(s.json_path),
            )
            for s in specs
            if s.kind == kind
        )
        if entries:
            groups.append(SectionGroup(kind.plural, entries))
    view = HomeView(
        items=tuple(list_item(site, sections, a) for a in latest),
        groups=tuple(groups),
    )
    page = PageView(
        head_title=one_line(site.title),
        description=one_line(site.description),
        canonical=site.url(""),
        alternates=site_alternates(site),
    )
    return render_page(templates, site, "home.html", page, home=view)


@dataclass(frozen=True, slots=True)
class SearchHitView:
    title: str
    href: str
    published_iso: str
    published_text: str
    source: str
    snippet: Markup  # escaped text with the matches in <mark>


@dataclass(frozen=True, slots=True)
class SearchView:
    query: str
    action: str
    feed: str
    max_chars: int
    hits: tuple[SearchHitView, ...]
    error: str


def render_search(
    templates: Templates,
    site: SiteInfo,
    *,
    query: str,
    action: str,
    feed: str,
    max_chars: int,
    hits: Sequence[SearchHitView] = (),
    error: str = "",
) -> bytes:
    """The HTML page of a search: its form, then its results (or why there are none)."""
    view = SearchView(query, action, feed, max_chars, tuple(hits), error)
    page = PageView(
        head_title=f"Cerca: {query} – {one_line(site.title)}" if query else "Cerca",
        description="",
        canonical=action,
        alternates=(Alternate(ATOM_TYPE, f"Ricerca «{query}» (Atom)", feed),) if query else (),
        breadcrumbs=(Link("Home", site.url("")), Link("Cerca")),
        noindex=True,
    )
    return render_page(templates, site, "search.html", page, search=view)
