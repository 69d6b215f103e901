"""What the feeds need to know about the site publishing them, and its URLs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

from db.records import DEFAULT_TIMEZONE

REMOTE_PAGES = ("none", "excerpt")


@dataclass(frozen=True)
class SiteInfo:
    """Site-wide settings of the publisher (config `[site]` and `[output]`).

    `link` is the site's HTML page (the RSS channel `<link>`); `base_url` is where the
    output folder is served, from which every feed's absolute self URL is built.
    `interval_seconds` is the scheduler interval, announced as `ttl` and
    `sy:updatePeriod`/`sy:updateFrequency`. `author` is the Atom author of entries that
    have none (Atom requires one); empty means the site title.

    `limits` overrides `items_per_feed` per kind of feed (`root`, `categoria`, `fonte`,
    `tag`), as `(kind, limit)` pairs so the settings stay hashable and printable (they are
    part of every feed's fingerprint). `archive_page_size` > 0 turns on RFC 5005 archives:
    fixed pages of that many items counted from the oldest (see `feeds.archive`).
    `hubs` are the WebSub hubs announced in every feed and pinged after a build.
    `author_feeds` publishes `autore/<slug>/` for every author signing at least
    `min_author_articles` articles.

    Pages (`feeds.pages`): every article without a URL of its own gets a page at its
    stored address; `remote_pages` = "excerpt" gives the others one too (title, summary,
    source and a link to the original, not indexed). `templates` is a folder whose files
    replace the built-in templates of the same name (empty: the built-in ones only).
    Section pages list `section_page_size` articles each, at most `section_pages` deep.
    """

    title: str
    link: str
    base_url: str
    language: str = "it"
    timezone: str = DEFAULT_TIMEZONE
    description: str = ""
    items_per_feed: int = 50
    interval_seconds: int = 600
    min_tag_articles: int = 2
    author: str = ""
    index_articles: int = 30
    hubs: tuple[str, ...] = ()
    limits: tuple[tuple[str, int], ...] = ()
    archive_page_size: int = 0
    author_feeds: bool = False
    min_author_articles: int = 2
    remote_pages: str = "none"
    templates: str = ""
    section_page_size: int = 20
    section_pages: int = 10

    def __post_init__(self) -> None:
        if self.items_per_feed < 1:
            raise ValueError(f"items_per_feed must be at least 1, not {self.items_per_feed}")
        for kind, limit in self.limits:
            if limit < 1:
                raise ValueError(f"the item limit of {kind} feeds must be at least 1, not {limit}")
        if self.archive_page_size < 0:
            raise ValueError(f"archive_page_size must not be negative: {self.archive_page_size}")
        if self.interval_seconds < 1:
            raise ValueError(f"interval_seconds must be positive, not {self.interval_seconds}")
        if self.remote_pages not in REMOTE_PAGES:
            raise ValueError(f'remote_pages must be "none" or "excerpt", not {self.remote_pages!r}')
        if self.section_page_size < 1 or self.section_pages < 1:
            raise ValueError("section_page_size and section_pages must be at least 1")
        # Fail at construction, not halfway through a build.
        ZoneInfo(self.timezone)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def limit(self, kind: str) -> int:
        """How many items the current feed of a kind of section shows."""
        return dict(self.limits).get(kind, self.items_per_feed)

    @property
    def author_name(self) -> str:
        return self.author or self.title

    def url(self, relative: str) -> str:
        """The absolute URL of `relative` (a path inside the output folder).

        `base_url` may or may not end in `/`; `urljoin` would drop its last segment when it
        does not, so join by hand.
        """
        return self.base_url.rstrip("/") + "/" + relative.lstrip("/")
