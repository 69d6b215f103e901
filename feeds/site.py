"""What the feeds need to know about the site publishing them, and its URLs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class SiteInfo:
    """Site-wide settings of the publisher (config `[site]` and `[output]`).

    `link` is the site's HTML page (the RSS channel `<link>`); `base_url` is where the
    output folder is served, from which every feed's absolute self URL is built.
    `interval_seconds` is the scheduler interval, announced as `ttl` and
    `sy:updatePeriod`/`sy:updateFrequency`. `author` is the Atom author of entries that
    have none (Atom requires one); empty means the site title.
    """

    title: str
    link: str
    base_url: str
    language: str = "it"
    timezone: str = "Europe/Rome"
    description: str = ""
    items_per_feed: int = 50
    interval_seconds: int = 600
    min_tag_articles: int = 2
    author: str = ""
    index_articles: int = 30
    hubs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.items_per_feed < 1:
            raise ValueError(f"items_per_feed must be at least 1, not {self.items_per_feed}")
        if self.interval_seconds < 1:
            raise ValueError(f"interval_seconds must be positive, not {self.interval_seconds}")
        # Fail at construction, not halfway through a build.
        ZoneInfo(self.timezone)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def author_name(self) -> str:
        return self.author or self.title

    def url(self, relative: str) -> str:
        """The absolute URL of `relative` (a path inside the output folder).

        `base_url` may or may not end in `/`; `urljoin` would drop its last segment when it
        does not, so join by hand.
        """
        return self.base_url.rstrip("/") + "/" + relative.lstrip("/")
