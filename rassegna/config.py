"""Loading and validating `rassegna.toml`, with `RASSEGNA_<SECTION>__<KEY>` overrides.

Relative paths in the file are read relative to the folder of the file itself, so the
same configuration works whatever the working directory (a systemd unit, a shell).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from db.records import INTERVAL_MAX, INTERVAL_MIN
from ingest import DEFAULT_TIMEZONE, is_url
from rassegna.durations import parse_duration
from rassegna.errors import ConfigError

DEFAULT_LOCATIONS = (Path("config/rassegna.toml"), Path("/etc/rassegna/rassegna.toml"))
ENV_PREFIX = "RASSEGNA_"


def _duration(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError(f'{value!r} is not a duration like "10m"')
    return value


Duration = Annotated[int, BeforeValidator(_duration), Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(_Section):
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
        if not is_url(value):
            raise ValueError(f'"{value}" is not an http(s) URL')
        return value


class StateConfig(_Section):
    dir: Path = Path("var")


class DatabaseConfig(_Section):
    # Empty means "a SQLite file in the state folder".
    url: str = ""


class OutputLimits(_Section):
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


class OutputConfig(_Section):
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


def _hub_list(value: object) -> object:
    # From the environment (RASSEGNA_WEBSUB__HUBS) a list arrives as one string.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class WebSubConfig(_Section):
    """`[websub]`: hubs announced in every feed and pinged after each build."""

    hubs: Annotated[list[str], BeforeValidator(_hub_list)] = []

    @field_validator("hubs")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not is_url(url):
                raise ValueError(f'"{url}" is not an http(s) URL')
        return value


AUTO = "auto"


def _take_auto(data: object) -> object:
    """`interval = "auto"` becomes `interval_auto = true` with no fixed interval."""
    interval = data.get("interval") if isinstance(data, dict) else None
    if isinstance(data, dict) and isinstance(interval, str) and interval.strip().lower() == AUTO:
        data = {k: v for k, v in data.items() if k != "interval"}
        data["interval_auto"] = True
    return data


class SchedulerConfig(_Section):
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

    @model_validator(mode="before")
    @classmethod
    def _auto(cls, data: object) -> object:
        return _take_auto(data)

    @model_validator(mode="after")
    def _bounds(self) -> SchedulerConfig:
        if self.min_interval > self.max_interval:
            raise ValueError("min_interval is longer than max_interval")
        return self


class ServerConfig(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # `GET /stato`, the operator's status page (error texts and source URLs: not public).
    status: bool = True


class IngestConfig(_Section):
    allow_private_networks: bool = False
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    user_agent: str = "rassegna/0.1 (+https://github.com/rassegna)"
    # Seconds between two requests to one host (never two at once): a publisher's ten
    # category feeds are spaced out, not fetched in one burst.
    host_delay: float = Field(default=0.25, ge=0, le=60)
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


class NormalizeConfig(_Section):
    # Proper-noun tags found in the body, added to the source's own tags.
    auto_tags: bool = False
    # Category as sources spell it -> our section ("Mondo" = "Esteri"), compared by slug.
    categories: dict[str, str] = {}


class SourceConfig(_Section):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["files", "feed", "page"]
    path: Path | None = None
    url: str | None = None
    interval: Duration | None = None
    interval_auto: bool = False  # `interval = "auto"` (see SchedulerConfig)
    category: str | None = None
    enabled: bool = True
    # Remote sources: a User-Agent for this source only; more article URLs of a page
    # source; or, for a page source whose url is an index page, a regular expression the
    # article links on it match.
    user_agent: str | None = None
    urls: list[str] = []
    link_pattern: str | None = None
    # Feed sources: fetch each entry's article page for its whole text (true), only for
    # entries under full_text_min_words words or equal to their summary ("auto"), or not.
    # content_selector (CSS) finds the body where no site rule does; strip_selectors
    # (CSS) are removed from the page first.
    full_text: bool | Literal["auto"] = False
    full_text_min_words: int = Field(default=120, ge=1)
    content_selector: str | None = None
    strip_selectors: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _auto(cls, data: object) -> object:
        return _take_auto(data)

    @model_validator(mode="after")
    def _location(self) -> SourceConfig:
        if self.kind == "files" and self.path is None:
            raise ValueError('a "files" source needs a path')
        if self.kind in ("feed", "page") and self.url is None and self.path is None:
            raise ValueError(f'a "{self.kind}" source needs a url')
        if self.kind == "page" and self.url is None:
            raise ValueError('a "page" source needs a url')
        for url in [self.url, *self.urls] if self.url is not None else self.urls:
            if not is_url(url):
                raise ValueError(f'"{url}" is not an http(s) URL')
        return self

    @field_validator("content_selector", "strip_selectors")
    @classmethod
    def _css(cls, value: str | list[str] | None) -> str | list[str] | None:
        from ingest.extract import SelectorError, Selectors

        for selector in [value] if isinstance(value, str) else value or []:
            try:
                Selectors(content=selector).compiled()
            except SelectorError as exc:
                raise ValueError(f'"{selector}" is {exc}') from exc
        return value

    @field_validator("link_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f'"{value}" is not a regular expression: {exc}') from exc
        return value

    @property
    def location(self) -> str:
        return str(self.path) if self.path is not None else str(self.url)


class TopicConfig(_Section):
    """`[[topics]]`: a feed of every article matching a search (see `db.search`)."""

    name: str = Field(min_length=1, max_length=200)
    query: str = Field(min_length=1)
    slug: str | None = None  # default: from the name
    title: str = ""
    description: str = ""
    sources: list[str] = []
    categories: list[str] = []
    tags: list[str] = []
    exclude: list[str] = []

    @field_validator("query")
    @classmethod
    def _parses(cls, value: str) -> str:
        from db.query import QueryError, parse_query

        try:
            parse_query(value)
        except QueryError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("slug")
    @classmethod
    def _safe_slug(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
            raise ValueError(f'"{value}" is not a slug (lower-case letters, digits, - and _)')
        return value


def _rule_pattern(value: str | None) -> str | None:
    from ingest.rules import RuleError, compile_pattern

    if value is not None:
        try:
            compile_pattern(value)
        except RuleError as exc:
            raise ValueError(str(exc)) from exc
    return value


RulePattern = Annotated[str | None, AfterValidator(_rule_pattern)]


class RuleConfig(_Section):
    """`[[rules]]`: keep or block entries (see `ingest.rules`); every condition given
    must hold. Patterns are regular expressions, case- and accent-insensitive."""

    action: Literal["block", "keep"]
    name: str = ""
    sources: list[str] | None = None  # absent: every source
    title: RulePattern = None
    url: RulePattern = None
    text: RulePattern = None
    author: RulePattern = None
    tag: RulePattern = None
    category: RulePattern = None
    language: Annotated[list[str], BeforeValidator(_hub_list)] = []
    older_than: Duration | None = None

    @model_validator(mode="after")
    def _some_condition(self) -> RuleConfig:
        if not self.patterns() and not self.language and self.older_than is None:
            raise ValueError(
                "a rule needs at least one condition: title, url, text, author, tag,"
                " category, language or older_than"
            )
        return self

    def patterns(self) -> dict[str, str]:
        from ingest.rules import PATTERN_FIELDS

        found = {name: getattr(self, name) for name in PATTERN_FIELDS}
        return {name: value for name, value in found.items() if value is not None}


class ReplaceConfig(_Section):
    """One `replace = [{ pattern = "...", with = "..." }]` of a `[[rewrite]]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    pattern: str = Field(min_length=1)
    replacement: str = Field(default="", alias="with")

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        from ingest.rewrite import RewriteError, compile_replace

        try:
            compile_replace(value)
        except RewriteError as exc:
            raise ValueError(str(exc)) from exc
        return value


class RewriteConfig(_Section):
    """`[[rewrite]]`: clean the body of a source's entries before they are stored."""

    name: str = ""
    sources: list[str] | None = None  # absent: every source
    remove: list[str] = []  # CSS selectors
    replace: list[ReplaceConfig] = []

    @field_validator("remove")
    @classmethod
    def _selectors(cls, value: list[str]) -> list[str]:
        from ingest.rewrite import RewriteError, compile_selector

        for selector in value:
            try:
                compile_selector(selector)
            except RewriteError as exc:
                raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _something(self) -> RewriteConfig:
        if not self.remove and not self.replace:
            raise ValueError("a rewrite needs remove or replace")
        return self


class Settings(_Section):
    site: SiteConfig = SiteConfig()
    state: StateConfig = StateConfig()
    database: DatabaseConfig = DatabaseConfig()
    output: OutputConfig = OutputConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    server: ServerConfig = ServerConfig()
    ingest: IngestConfig = IngestConfig()
    normalize: NormalizeConfig = NormalizeConfig()
    websub: WebSubConfig = WebSubConfig()
    sources: list[SourceConfig] = []
    topics: list[TopicConfig] = []
    rules: list[RuleConfig] = []
    rewrite: list[RewriteConfig] = []
    # Where the settings came from, for messages; not a key of the file.
    origin: str = Field(default="(defaults)", exclude=True)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.state.dir / 'rassegna.db'}"

    def interval_of(self, source: SourceConfig) -> int:
        return source.interval or self.scheduler.interval

    def is_adaptive(self, source: SourceConfig) -> bool:
        """Whether the source's interval follows how often it publishes."""
        return source.interval_auto or (source.interval is None and self.scheduler.interval_auto)

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)


def find_config(explicit: str | None) -> Path:
    """The config file to read: `--config`/RASSEGNA_CONFIG, else the default locations."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{explicit}: configuration file not found")
        return path
    for candidate in DEFAULT_LOCATIONS:
        if candidate.is_file():
            return candidate
    looked = " and ".join(str(p) for p in DEFAULT_LOCATIONS)
    raise ConfigError(f"no configuration file: looked for {looked} (use --config PATH)")


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, override from the environment, validate and resolve paths of a config file."""
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    env_keys = _apply_environment(raw, environ, path)
    try:
        settings = Settings.model_validate({**raw, "origin": str(path)})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, env_keys)) from exc
    settings = _resolve_paths(settings, path.parent)
    if settings.ingest.site_rules is not None:
        rules = settings.ingest.site_rules.expanduser()
        rules = rules if rules.is_absolute() else (path.parent / rules).resolve()
        settings = settings.model_copy(
            update={"ingest": settings.ingest.model_copy(update={"site_rules": rules})}
        )
    _check_site_rules(settings)
    _check_sources(settings, path)
    _check_templates(settings, path)
    _check_topics(settings, path)
    _check_rule_sources(settings, path)
    return settings


def _apply_environment(
    raw: dict[str, Any], environ: Mapping[str, str], path: Path
) -> dict[tuple[str, str], str]:
    """Fold RASSEGNA_SECTION__KEY variables into `raw`; returns which keys came from where."""
    applied: dict[tuple[str, str], str] = {}
    sections = {
        name
        for name, f in Settings.model_fields.items()
        if name not in ("sources", "topics", "rules", "rewrite", "origin")
    }
    for variable, value in sorted(environ.items()):
        if not variable.startswith(ENV_PREFIX) or "__" not in variable:
            continue
        section, _, key = variable[len(ENV_PREFIX) :].lower().partition("__")
        if section not in sections:
            raise ConfigError(
                f"environment {variable}: there is no [{section}] section in the configuration"
            )
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section} must be a table")
        table[key] = value
        applied[(section, key)] = variable
    return applied


def _describe(exc: ValidationError, path: Path, env_keys: dict[tuple[str, str], str]) -> str:
    """One sentence for the first validation problem: where, which key, what is wrong."""
    error = exc.errors()[0]
    loc = error["loc"]
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += ("." if key else "") + str(part)
    where = str(path)
    if len(loc) >= 2 and (str(loc[0]), str(loc[1])) in env_keys:
        where = f"environment {env_keys[(str(loc[0]), str(loc[1]))]}"
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        return f"{where}: {key}: unknown key"
    if kind == "missing":
        return f"{where}: {key}: required key is missing"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    if kind in ("literal_error",):
        message = f'"{given}" is not one of: {", ".join(_literal_choices(error))}'
    elif kind.endswith("_parsing") or kind.endswith("_type"):
        message = f"{given!r} is not valid: {message[0].lower()}{message[1:]}"
    return f"{where}: {key}: {message}" if key else f"{where}: {message}"


def _literal_choices(error: Any) -> list[str]:
    expected = str(error.get("ctx", {}).get("expected", ""))
    return [part.strip(" '") for part in expected.replace(" or ", ",").split(",") if part.strip()]


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    def resolve(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    sources = [
        s.model_copy(update={"path": resolve(s.path)}) if s.path is not None else s
        for s in settings.sources
    ]
    database = settings.database
    if database.url.startswith("sqlite:///") and not database.url.startswith("sqlite:////"):
        relative = database.url.removeprefix("sqlite:///")
        if relative and relative != ":memory:" and not relative.startswith("file:"):
            database = database.model_copy(update={"url": f"sqlite:///{resolve(Path(relative))}"})
    return settings.model_copy(
        update={
            "state": settings.state.model_copy(update={"dir": resolve(settings.state.dir)}),
            "output": settings.output.model_copy(
                update={
                    "dir": resolve(settings.output.dir),
                    "templates": (
                        resolve(settings.output.templates)
                        if settings.output.templates is not None
                        else None
                    ),
                }
            ),
            "database": database,
            "sources": sources,
        }
    )


def _check_templates(settings: Settings, path: Path) -> None:
    folder = settings.output.templates
    if folder is not None and not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(f'{path}: output.templates: "{folder}" {what}')


def _check_sources(settings: Settings, path: Path) -> None:
    seen: dict[str, int] = {}
    for index, source in enumerate(settings.sources):
        if source.name in seen:
            raise ConfigError(
                f'{path}: sources[{index}].name: "{source.name}" is already the name of'
                f" sources[{seen[source.name]}]"
            )
        seen[source.name] = index
        if source.kind == "files" and source.path is not None and not source.path.is_dir():
            what = "is not a folder" if source.path.exists() else "does not exist"
            raise ConfigError(f'{path}: sources[{index}].path: "{source.path}" {what}')


def _check_site_rules(settings: Settings) -> None:
    """A site rule file that does not parse is an error naming the file and line."""
    from ingest.siterules import SiteRuleError, load_site_rules

    try:
        load_site_rules(settings.ingest.site_rules)
    except SiteRuleError as exc:
        raise ConfigError(exc.message) from exc


def topic_slug(topic: TopicConfig) -> str:
    """The folder of a topic feed: `tema/<slug>/`."""
    from db.labels import label_slug

    return topic.slug or label_slug(topic.name)


def _check_topics(settings: Settings, path: Path) -> None:
    seen: dict[str, int] = {}
    for index, topic in enumerate(settings.topics):
        slug = topic_slug(topic)
        if slug in seen:
            raise ConfigError(
                f'{path}: topics[{index}].name: "{topic.name}" has the same slug "{slug}" as'
                f" topics[{seen[slug]}]"
            )
        seen[slug] = index


def _check_rule_sources(settings: Settings, path: Path) -> None:
    """Every source a rule or rewrite names is a configured one (a typo would silently
    make it apply to nothing)."""
    known = {s.name for s in settings.sources}
    named: list[tuple[str, int, list[str] | None]] = [
        *(("rules", i, r.sources) for i, r in enumerate(settings.rules)),
        *(("rewrite", i, r.sources) for i, r in enumerate(settings.rewrite)),
    ]
    for kind, index, sources in named:
        for name in sources or ():
            if name not in known:
                raise ConfigError(f'{path}: {kind}[{index}].sources: no source named "{name}"')
