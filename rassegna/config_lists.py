"""The array tables of `rassegna.toml`: what the site collects (`[[sources]]`), the feeds
it adds by search (`[[topics]]`), and what it keeps, blocks or cleans (`[[rules]]`,
`[[rewrite]]`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from rassegna.config_sections import (
    STRICT,
    AutoInterval,
    Duration,
    checked,
    comma_list,
    http_url,
)


class _Table(BaseModel):
    # A base of this module's own: ruff tells a pydantic model (whose list defaults are
    # copied, never shared) only by a base class it can see.
    model_config = STRICT


class SourceConfig(_Table, AutoInterval):
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

    @model_validator(mode="after")
    def _location(self) -> SourceConfig:
        if self.kind == "files" and self.path is None:
            raise ValueError('a "files" source needs a path')
        if self.kind in ("feed", "page") and self.url is None and self.path is None:
            raise ValueError(f'a "{self.kind}" source needs a url')
        if self.kind == "page" and self.url is None:
            raise ValueError('a "page" source needs a url')
        for url in [self.url, *self.urls] if self.url is not None else self.urls:
            http_url(url)
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


class TopicConfig(_Table):
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

        return checked(value, parse_query, QueryError)

    @field_validator("slug")
    @classmethod
    def _safe_slug(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
            raise ValueError(f'"{value}" is not a slug (lower-case letters, digits, - and _)')
        return value


def _rule_pattern(value: str | None) -> str | None:
    from ingest.rules import RuleError, compile_pattern

    return value if value is None else checked(value, compile_pattern, RuleError)


RulePattern = Annotated[str | None, AfterValidator(_rule_pattern)]


class RuleConfig(_Table):
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
    language: Annotated[list[str], BeforeValidator(comma_list)] = []
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


class ReplaceConfig(_Table):
    """One `replace = [{ pattern = "...", with = "..." }]` of a `[[rewrite]]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    pattern: str = Field(min_length=1)
    replacement: str = Field(default="", alias="with")

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        from ingest.rewrite import RewriteError, compile_replace

        return checked(value, compile_replace, RewriteError)


class RewriteConfig(_Table):
    """`[[rewrite]]`: clean the body of a source's entries before they are stored."""

    name: str = ""
    sources: list[str] | None = None  # absent: every source
    remove: list[str] = []  # CSS selectors
    replace: list[ReplaceConfig] = []

    @field_validator("remove")
    @classmethod
    def _selectors(cls, value: list[str]) -> list[str]:
        from ingest.rewrite import RewriteError, compile_selector

        return [checked(selector, compile_selector, RewriteError) for selector in value]

    @model_validator(mode="after")
    def _something(self) -> RewriteConfig:
        if not self.remove and not self.replace:
            raise ValueError("a rewrite needs remove or replace")
        return self


def topic_slug(topic: TopicConfig) -> str:
    """The folder of a topic feed: `tema/<slug>/`."""
    from db.labels import label_slug

    return topic.slug or label_slug(topic.name)
