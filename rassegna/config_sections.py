"""The tables of `rassegna.toml` that configure the program itself: `[site]`, `[state]`,
`[database]`, `[output]`, `[websub]`, `[scheduler]`, `[server]`, `[ingest]`, `[normalize]`;
and the value types and validation helpers every table of the file shares."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Final, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from db.records import INTERVAL_MAX, INTERVAL_MIN
from ingest import DEFAULT_TIMEZONE, is_url
from ingest.fetch import HOST_DELAY, MAX_BYTES
from rassegna.durations import parse_duration


def _duration(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError(f'{value!r} is not a duration like "10m"')
    return value


Duration = Annotated[int, BeforeValidator(_duration), Field(gt=0)]


# Every table of the file: unknown keys are errors, values never change once read.
STRICT: Final = ConfigDict(extra="forbid", frozen=True)


class StrictModel(BaseModel):
    model_config = STRICT


T = TypeVar("T")


def checked(value: T, check: Callable[[T], object], error: type[Exception]) -> T:
    """`value`, once `check(value)` has passed: its `error` becomes the validation error
    (one sentence, the library's own)."""
    try:
        check(value)
    except error as exc:
        raise ValueError(str(exc)) from exc
    return value


def http_url(value: str) -> str:
    """`value`, once it is known to be an http(s) URL (`ingest.is_url`, the rule every
    fetch follows)."""
    if not is_url(value):
        raise ValueError(f'"{value}" is not an http(s) URL')
    return value


class SiteConfig(StrictModel):
    title: str = "Rassegna"
    link: str = "http://127.0.0.1:8080/"
    base_url: str = "http://127.0.0.1:8080/"
    description: str = "Notizie in italiano raccolte da rassegna"
    language: str = "it"
    timezone: str = DEFAULT_TIMEZONE

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f'"{value}" is not a time zone like "Europe/Rome"') from exc
        return value

    @field_validator("link", "base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)


class StateConfig(StrictModel):
    dir: Path = Path("var")


class DatabaseConfig(StrictModel):
    # Empty means "a SQLite file in the state folder".
    url: str = ""


class OutputLimits(StrictModel):
    """`[output.limits]`: items per feed by kind of section (else `items_per_feed`)."""

    root: int | None = Field(default=None, ge=1, le=10_000)
    categoria: int | None = Field(default=None, ge=1, le=10_000)
    fonte: int | None = Field(default=None, ge=1, le=10_000)
    tag: int | None = Field(default=None, ge=1, le=10_000)
    tema: int | None = Field(default=None, ge=1, le=10_000)
    autore: int | None = Field(default=None, ge=1, le=10_000)

    def pairs(self) -> tuple[tuple[str, int], ...]:
        return tuple(
            (kind, limit) for kind, limit in self.model_dump().items() if limit is not None
        )


class OutputConfig(StrictModel):
    dir: Path = Path("var/public")
    items_per_feed: int = Field(default=50, ge=1, le=10_000)
    min_tag_articles: int = Field(default=2, ge=1)
    # Author feeds (`autore/<slug>/`), off by default: bylines are often noisy.
    author_feeds: bool = False
    min_author_articles: int = Field(default=2, ge=1)
    # RFC 5005 archives: older items in immutable pages of `archive_page_size` items.
    # Retention (0 = keep for ever): articles older than keep_days, or beyond the newest
    # max_per_source of their source, are deleted nightly unless a feed still shows them.
    keep_days: int = Field(default=0, ge=0)
    max_per_source: int = Field(default=0, ge=0)
    archive: bool = True
    archive_page_size: int = Field(default=50, ge=1, le=10_000)
    limits: OutputLimits = OutputLimits()
    # Pages of articles with a URL of their own: "none" (link to the original) or
    # "excerpt" (a local page with the summary, pointing at the original).
    remote_pages: Literal["none", "excerpt"] = "none"
    # A folder whose files replace the built-in page templates of the same name.
    templates: Path | None = None
    # Section pages (categoria/<slug>/index.html...): articles per page, pages at most.
    section_page_size: int = Field(default=20, ge=1, le=1_000)
    section_pages: int = Field(default=10, ge=1, le=1_000)


def comma_list(value: object) -> object:
    # From the environment (RASSEGNA_WEBSUB__HUBS) a list arrives as one string.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class WebSubConfig(StrictModel):
    """`[websub]`: hubs announced in every feed and pinged after each build."""

    hubs: Annotated[list[str], BeforeValidator(comma_list)] = []

    @field_validator("hubs")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        return [http_url(url) for url in value]


AUTO = "auto"


class AutoInterval(StrictModel):
    """A table whose `interval` may be "auto" (`[scheduler]`, each `[[sources]]`): it
    becomes `interval_auto = true` with no fixed interval."""

    @model_validator(mode="before")
    @classmethod
    def _auto(cls, data: object) -> object:
        interval = data.get("interval") if isinstance(data, dict) else None
        if (
            isinstance(data, dict)
            and isinstance(interval, str)
            and interval.strip().lower() == AUTO
        ):
            data = {k: v for k, v in data.items() if k != "interval"}
            data["interval_auto"] = True
        return data


class SchedulerConfig(AutoInterval):
    interval: Duration = 600
    # `interval = "auto"`: every source without its own interval polls as often as it
    # publishes (db.schedule.adaptive_interval); `interval` then stays the default base
    # of backoff and of the feeds' ttl.
    interval_auto: bool = False
    # The bounds of an adaptive interval; `max_interval` also bounds how long a server
    # may ask us to wait (Cache-Control, Expires, ttl, sy:updatePeriod).
    min_interval: Duration = INTERVAL_MIN
    max_interval: Duration = INTERVAL_MAX
    workers: int = Field(default=4, ge=1, le=64)
    # How long a daemon's claim on a source lasts without renewal: a living daemon renews
    # the claims it still works on every third of it, so a dead daemon's sources are
    # taken over by the others soon after this, and a slow fetch keeps its source.
    lease: Duration = 20

    @model_validator(mode="after")
    def _bounds(self) -> SchedulerConfig:
        if self.min_interval > self.max_interval:
            raise ValueError("min_interval is longer than max_interval")
        return self


class ServerConfig(StrictModel):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # `GET /stato`, the operator's status page (error texts and source URLs: not public).
    status: bool = True


class IngestConfig(StrictModel):
    allow_private_networks: bool = False
    max_bytes: int = Field(default=MAX_BYTES, ge=1024)
    user_agent: str = "rassegna/0.1 (+https://github.com/rassegna)"
    # Seconds between two requests to one host (never two at once); see ingest.fetch.
    host_delay: float = Field(default=HOST_DELAY, ge=0, le=60)
    # utm_*, fbclid, gclid, mc_cid... leave article URLs, entry ids and content links
    # before identity is decided (ingest.tracking).
    strip_tracking: bool = True
    # Full text of truncated feeds: a folder of site rules (FiveFilters ftr-site-config
    # files, one per host) beside those rassegna ships, and the article pages fetched per
    # poll of one source at most (the rest on later polls, newest first).
    site_rules: Path | None = None
    full_text_per_poll: int = Field(default=10, ge=1, le=1000)
    # Worker processes normalizing big batches (ingest.pool); unset: one per core, 1: none.
    processes: int | None = Field(default=None, ge=1, le=64)


class NormalizeConfig(StrictModel):
    # Proper-noun tags found in the body, added to the source's own tags.
    auto_tags: bool = False
    # Category as sources spell it -> our section ("Mondo" = "Esteri"), compared by slug.
    categories: dict[str, str] = {}
