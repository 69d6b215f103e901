"""Which feeds exist: the root feed and one per category, source, tag, topic and (when
configured) author."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from db.records import Label, Section, SectionKind, TopicInfo
from db.store import Store
from feeds.errors import FeedError
from feeds.site import SiteInfo

# Slugs become folder names; anything else could escape the output folder.
_SAFE_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class FeedKind(StrEnum):
    """A kind of feed; its value is the folder its feeds are published under."""

    ROOT = "root"
    CATEGORY = "categoria"
    SOURCE = "fonte"
    TAG = "tag"
    TOPIC = "tema"  # configured topic feeds (`[[topics]]`), see `db.search`
    AUTHOR = "autore"  # `output.author_feeds`, for authors with enough articles
    SEARCH = "cerca"  # one search's results, served at /cerca?q=... (`rassegna.search`)

    @property
    def noun(self) -> str:
        """What one section of this kind is called in headings ("Categoria"); "" for the
        root and search feeds, which are not sections."""
        return _NOUNS.get(self, ("", ""))[0]

    @property
    def plural(self) -> str:
        """The heading over every section of this kind ("Categorie")."""
        return _NOUNS.get(self, ("", ""))[1]


_NOUNS = {
    FeedKind.CATEGORY: ("Categoria", "Categorie"),
    FeedKind.SOURCE: ("Fonte", "Fonti"),
    FeedKind.TAG: ("Tag", "Tag"),
    FeedKind.TOPIC: ("Tema", "Temi"),
    FeedKind.AUTHOR: ("Autore", "Autori"),
}


SECTION_OF_KIND: dict[FeedKind, SectionKind] = {
    FeedKind.CATEGORY: "category",
    FeedKind.SOURCE: "source",
    FeedKind.TAG: "tag",
    FeedKind.TOPIC: "topic",
    FeedKind.AUTHOR: "author",
}
"""The store's section kind behind each feed folder kind."""
KIND_OF_SECTION = {section: kind for kind, section in SECTION_OF_KIND.items()}


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One published feed (a section), in all three formats.

    `folder` is relative to the output folder: `""` for the root, else `categoria/<slug>`,
    `fonte/<slug>`, `tag/<slug>`, `tema/<slug>` or `autore/<slug>`.
    """

    kind: FeedKind
    slug: str
    name: str
    title: str
    description: str
    folder: str

    def path(self, filename: str) -> str:
        return f"{self.folder}/{filename}" if self.folder else filename

    @property
    def rss_path(self) -> str:
        return self.path("rss.xml")

    @property
    def atom_path(self) -> str:
        return self.path("atom.xml")

    @property
    def json_path(self) -> str:
        return self.path("feed.json")

    @property
    def paths(self) -> tuple[str, str, str]:
        return (self.rss_path, self.atom_path, self.json_path)

    @property
    def section(self) -> Section | None:
        """The store's section this feed shows (None: the root feed, the whole store)."""
        kind = SECTION_OF_KIND.get(self.kind)
        return None if kind is None else Section(kind, self.slug)


def root_spec(site: SiteInfo) -> FeedSpec:
    return FeedSpec(
        kind=FeedKind.ROOT,
        slug="",
        name=site.title,
        title=site.title,
        description=site.description or f"Le ultime notizie di {site.title}",
        folder="",
    )


def section_spec(site: SiteInfo, kind: FeedKind, label: Label) -> FeedSpec:
    """The feed of one category, source, tag or author."""
    if not _SAFE_SLUG.match(label.slug):
        raise FeedError(f"{kind} {label.name!r}: slug {label.slug!r} is not a safe folder name")
    what = {
        FeedKind.CATEGORY: ("", f"Gli articoli della categoria «{label.name}»"),
        FeedKind.SOURCE: ("fonte ", f"Gli articoli della fonte «{label.name}»"),
        FeedKind.TAG: ("#", f"Gli articoli con il tag «{label.name}»"),
        FeedKind.AUTHOR: ("", f"Gli articoli firmati da {label.name}"),
    }
    prefix, description = what[kind]
    return FeedSpec(
        kind=kind,
        slug=label.slug,
        name=label.name,
        title=f"{site.title} – {prefix}{label.name}",
        description=description,
        folder=f"{kind}/{label.slug}",
    )


def plan_feeds(store: Store, site: SiteInfo) -> list[FeedSpec]:
    """Every feed to publish, root first, then categories, sources, tags, topics and
    authors (when `SiteInfo.author_feeds`), each group by slug."""
    specs = [root_spec(site)]
    specs += [section_spec(site, FeedKind.CATEGORY, c) for c in store.categories()]
    specs += [section_spec(site, FeedKind.SOURCE, s) for s in store.sources_with_articles()]
    specs += [section_spec(site, FeedKind.TAG, t) for t in store.tags(site.min_tag_articles)]
    specs += [topic_spec(site, t) for t in store.topics()]
    if site.author_feeds:
        authors = store.authors(site.min_author_articles)
        specs += [section_spec(site, FeedKind.AUTHOR, a) for a in authors]
    return specs


def topic_spec(site: SiteInfo, topic: TopicInfo) -> FeedSpec:
    """The feed of one configured topic, published even while it is still empty (a reader
    may subscribe before the first match)."""
    if not _SAFE_SLUG.match(topic.slug):
        raise FeedError(f"topic {topic.name!r}: slug {topic.slug!r} is not a safe folder name")
    return FeedSpec(
        kind=FeedKind.TOPIC,
        slug=topic.slug,
        name=topic.name,
        title=topic.title or f"{site.title} – {topic.name}",
        description=topic.description or f"Gli articoli sul tema «{topic.name}»",
        folder=f"{FeedKind.TOPIC}/{topic.slug}",
    )


ARCHIVE_FOLDER = "archivio"


def archive_spec(spec: FeedSpec, page: int) -> FeedSpec:
    """Archive page `page` (1 = the oldest items) of a feed, in `<folder>/archivio/<page>/`."""
    folder = f"{spec.folder}/{ARCHIVE_FOLDER}/{page}" if spec.folder else f"{ARCHIVE_FOLDER}/{page}"
    return FeedSpec(
        kind=spec.kind,
        slug=spec.slug,
        name=spec.name,
        title=f"{spec.title} (archivio, pagina {page})",
        description=spec.description,
        folder=folder,
    )
