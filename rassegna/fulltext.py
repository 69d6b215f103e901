"""Full text settings from the configuration, and the `rules site` (`--test`) and `preview
--full-text` views of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest import normalize
from ingest.article import to_draft
from ingest.collect import Drafting, parse_response
from ingest.errors import BadArticle, IngestError
from ingest.extract import Selectors, by_rule
from ingest.fetch import FetchError
from ingest.fulltext import FullTextOptions, Mode, PageFetcher, preview_entry
from ingest.siterules import SiteRule, SiteRules, load_site_rules
from rassegna.config import Settings, SourceConfig
from rassegna.errors import RassegnaError


def site_rules(settings: Settings) -> SiteRules:
    """The rules in force: rassegna's, then `[ingest] site_rules` (checked at load)."""
    return load_site_rules(settings.ingest.site_rules)


def mode_of(value: bool | str) -> Mode:
    if value == "auto":
        return "auto"
    return "on" if value is True else "off"


def full_text_options(
    settings: Settings,
    source: SourceConfig | None,
    *,
    mode: Mode | None = None,
    rules: SiteRules | None = None,
) -> FullTextOptions:
    """The options of one source (`mode` overrides its `full_text`, for `preview`). A page
    source fetches no article page for a feed, but finds its own articles' text with the
    same site rules and selectors, so it gets them too; so does an ad-hoc URL (`source`
    None), which may be an article page."""
    chosen = mode or (mode_of(source.full_text) if source is not None else "off")
    if chosen == "off" and source is not None and source.kind != "page":
        return FullTextOptions(timezone=settings.site.timezone)
    return FullTextOptions(
        mode=chosen,
        min_words=source.full_text_min_words if source is not None else 120,
        per_poll=settings.ingest.full_text_per_poll,
        selectors=Selectors(
            content=source.content_selector if source is not None else None,
            strip=tuple(source.strip_selectors) if source is not None else (),
        ),
        rules=rules if rules is not None else site_rules(settings),
        timezone=settings.site.timezone,
    )


def rule_for_host(settings: Settings, host: str) -> SiteRule | None:
    return site_rules(settings).for_host(host)


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """What a site rule made of one of its `test_url` pages."""

    url: str
    ok: bool
    words: int
    detail: str  # the extraction, or why the rule failed on the page


def _plain(text: str) -> str:
    return " ".join(text.replace("’", "'").split())


def check_one(rule: SiteRule, url: str, contains: tuple[str, ...], pages: PageFetcher) -> RuleCheck:
    """Fetch one test page and extract it with the rule alone (no fallback)."""
    try:
        response = pages.fetch(url)
    except FetchError as exc:
        return RuleCheck(url, False, 0, exc.message.removeprefix(f"{url}: "))
    if response.content_type and "html" not in response.content_type:
        return RuleCheck(url, False, 0, f"not a web page ({response.content_type})")
    found = by_rule(
        response.body,
        url=response.url,
        charset=response.charset,
        rule=rule,
        fetch=pages.more,
    )
    if found is None or not found.words:
        return RuleCheck(url, False, 0, "the rule's body finds no article text")
    text = _plain(normalize.html_to_text(found.html))
    missing = [c for c in contains if _plain(c) not in text]
    if missing:
        return RuleCheck(url, False, found.words, f'the text lacks "{missing[0]}" (test_contains)')
    split = f", {found.pages} pages" if found.pages > 1 else ""
    return RuleCheck(url, True, found.words, f"{found.words} words{split}")


def check_site_rule(settings: Settings, rule: SiteRule) -> list[RuleCheck]:
    """Each `test_url` of `rule` fetched through the configured client (limits, address
    guard), and what the rule extracts from it."""
    from rassegna.operations import make_fetcher  # it builds its options with this module

    with make_fetcher(settings) as fetcher:
        pages = PageFetcher(fetcher, datetime.now(UTC))
        return [check_one(rule, url, contains, pages) for url, contains in rule.tests]


def preview_full_text(settings: Settings, url: str) -> list[dict[str, Any]]:
    """`rassegna preview URL --full-text`: each entry of the feed at `url` as it would be
    stored with full text on, with where its text came from and which rule found it."""
    # Imported here: rassegna.operations builds its remote options with this module.
    from rassegna.operations import draft_rules, make_fetcher
    from rassegna.preview import draft_fields

    source = next((s for s in settings.sources if s.url == url), None)
    options = full_text_options(settings, source, mode="on")
    now = datetime.now(UTC)
    drafting = Drafting(
        now,
        settings.site.timezone,
        source.category if source else None,
        draft_rules(settings),
        settings.ingest.strip_tracking,
    )
    with make_fetcher(settings) as fetcher:
        try:
            response = fetcher.fetch(url, now=now)
        except FetchError as exc:
            raise RassegnaError(exc.message) from exc
        try:
            parsed = parse_response(response, drafting, source=url)
        except IngestError as exc:
            raise RassegnaError(exc.message) from exc
        shown: list[dict[str, Any]] = []
        pages = PageFetcher(fetcher, now)
        for raw in parsed.entries:
            page = preview_entry(raw, options, pages)
            if raw.fallback_date is None:
                raw.fallback_date = now
            try:
                draft = to_draft(
                    raw,
                    timezone=drafting.timezone,
                    default_category=drafting.category,
                    rules=drafting.rules,
                )
            except BadArticle as exc:
                shown.append({"url": raw.url, "skipped": exc.reason})
                continue
            fields = draft_fields(settings, draft)
            fields["text_source"] = page.text_source
            fields["full_text"] = page.method or "not wanted"
            fields["site_rule"] = page.rule
            fields["words"] = page.words
            shown.append(fields)
    return shown
