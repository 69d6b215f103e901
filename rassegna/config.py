"""Loading and validating `rassegna.toml`, with `RASSEGNA_<SECTION>__<KEY>` overrides:
`Settings`, the whole file, and `load_settings`, which reads it.

Relative paths in the file are read relative to the folder of the file itself, so the
same configuration works whatever the working directory (a systemd unit, a shell).
The tables themselves are defined in `config_sections` and `config_lists`; the ones other
modules use are exported from here too.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from rassegna.config_lists import (
    RewriteConfig,
    RuleConfig,
    SourceConfig,
    TopicConfig,
    topic_slug,
)
from rassegna.config_sections import (
    STRICT,
    DatabaseConfig,
    IngestConfig,
    NormalizeConfig,
    OutputConfig,
    SchedulerConfig,
    ServerConfig,
    SiteConfig,
    StateConfig,
    WebSubConfig,
)
from rassegna.errors import ConfigError

__all__ = [
    "RewriteConfig",
    "RuleConfig",
    "Settings",
    "SourceConfig",
    "TopicConfig",
    "find_config",
    "load_settings",
    "topic_slug",
]

DEFAULT_LOCATIONS = (Path("config/rassegna.toml"), Path("/etc/rassegna/rassegna.toml"))
ENV_PREFIX = "RASSEGNA_"


class Settings(BaseModel):
    model_config = STRICT

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
