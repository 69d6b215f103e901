"""`rassegna rules ...`: what the keep/block rules say of stored articles (`rules test`),
hiding the stored articles they block (`rules apply`, `--undo`), the check that a keep rule
does not empty a source (`rassegna check`), and the site rule in force for a host
(`rules site`, full text of truncated feeds)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from db.records import StoredArticle
from db.store import Store
from db.tables import chunks
from feeds.archive import drop_pages, stale_pages
from ingest.rules import Decision, RuleSet, Subject
from ingest.siterules import SiteRule
from rassegna.config import Settings
from rassegna.durations import parse_duration

rules_app = typer.Typer(help="Keep/block rules: test them, apply them to stored articles.")

CHECK_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A stored article and what the rules say of it."""

    article: StoredArticle
    decision: Decision
    hidden: bool


def verdicts(
    store: Store,
    rules: RuleSet,
    *,
    since: datetime | None,
    source: str | None = None,
    now: datetime | None = None,
) -> Iterator[Verdict]:
    """Every stored article published since `since` (of `source`), newest first, with
    the decision of the rules of its source."""
    now = now or datetime.now(UTC)
    ids = store.article_ids(since=since, source=source)
    by_source: dict[str, Any] = {}
    for chunk in chunks(ids):
        found = store.articles_by_ids(chunk)
        hidden = store.hidden_among(chunk)
        for article_id in chunk:
            article = found.get(article_id)
            if article is None:
                continue
            applicable = by_source.get(article.source_name)
            if applicable is None:
                applicable = by_source[article.source_name] = rules.for_source(article.source_name)
            decision = applicable.decide(Subject.of_stored(article), now)
            yield Verdict(article, decision, article_id in hidden)


def keep_rule_warnings(settings: Settings, store: Store, now: datetime | None = None) -> list[str]:
    """One sentence per source whose keep rules would have blocked every one of its
    articles of the last 30 days (a wrong keep rule silently empties a feed)."""
    from rassegna.rulesets import rule_set

    now = now or datetime.now(UTC)
    rules = rule_set(settings)
    warnings: list[str] = []
    for source in settings.sources:
        if not rules.for_source(source.name).keep:
            continue
        seen = blocked = 0
        for verdict in verdicts(store, rules, since=now - CHECK_WINDOW, source=source.name):
            seen += 1
            blocked += verdict.decision.blocked
        if seen and blocked == seen:
            warnings.append(
                f'source "{source.name}": its keep rules would have blocked all of its {seen}'
                " articles of the last 30 days; check them with `rassegna rules test"
                f' --source "{source.name}" --since 30d`'
            )
    return warnings


def _since(value: str | None, option: str) -> datetime | None:
    from rassegna.cli_common import fail

    if value is None:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(value))
    except ValueError as exc:
        fail(f"{option}: {exc}", code=2)


SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only articles published within this duration (7d, 12h)."),
]


@rules_app.command("test")
def rules_test(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source (name or slug).")] = None,
    since: SinceOption = "7d",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show, for each stored article, whether the rules would keep or block it, and which
    rule decides. Nothing is changed.

    Example: rassegna rules test --source "Il Giornale di Esempio" --since 7d
    """
    from rassegna.cli_common import guard, settings_of, store_of
    from rassegna.rulesets import rule_set

    settings = settings_of(ctx)
    after = _since(since, "--since")
    with store_of(ctx, settings) as store:
        found = guard(
            ctx, lambda: list(verdicts(store, rule_set(settings), since=after, source=source))
        )
    if as_json:
        rows = [
            {
                "id": v.article.id,
                "source": v.article.source_name,
                "title": v.article.title,
                "url": v.article.url,
                "published": v.article.published.isoformat(),
                "action": v.decision.action,
                "rule": v.decision.rule,
                "reason": v.decision.reason,
                "hidden": v.hidden,
            }
            for v in found
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("published", "source", "action", "why", "title")
    for v in found:
        table.add_row(
            v.article.published.strftime("%Y-%m-%d %H:%M"),
            v.article.source_name,
            ("[red]block[/]" if v.decision.blocked else "keep") + (" (hidden)" if v.hidden else ""),
            v.decision.reason,
            v.article.title,
        )
    console = Console()
    console.print(table)
    blocked = sum(v.decision.blocked for v in found)
    console.print(f"{len(found)} articles: {len(found) - blocked} kept, {blocked} blocked")


@rules_app.command("apply")
def rules_apply(
    ctx: typer.Context,
    since: SinceOption = "30d",
    undo: Annotated[bool, typer.Option("--undo", help="Show every hidden article again.")] = False,
) -> None:
    """Hide the stored articles the rules block from every feed (they are not deleted),
    then rebuild the feeds; --undo shows every hidden article again.

    Example: rassegna rules apply --since 30d
    """
    from rassegna.cli_common import guard, settings_of, store_of
    from rassegna.operations import build
    from rassegna.rulesets import rule_set

    settings = settings_of(ctx)
    after = _since(since, "--since")
    with store_of(ctx, settings) as store:
        if undo:
            shown = guard(ctx, store.hidden_ids)
            changed = guard(ctx, lambda: store.set_hidden(shown, False))
            typer.echo(f"{changed} articles shown again")
            moved = store.articles_by_ids(shown).values()
            oldest = min((a.published for a in moved), default=None)
            stale = stale_pages(settings.output.dir, since=oldest) if shown else []
        else:
            blocked = guard(
                ctx,
                lambda: [
                    v.article.id
                    for v in verdicts(store, rule_set(settings), since=after)
                    if v.decision.blocked
                ],
            )
            changed = guard(ctx, lambda: store.set_hidden(blocked, True))
            already = len(blocked) - changed
            typer.echo(
                f"{changed} articles hidden"
                + (f" ({already} more were already hidden)" if already else "")
            )
            uids = {a.uid for a in store.articles_by_ids(blocked).values()}
            stale = stale_pages(settings.output.dir, uids=uids) if uids else []
        if stale:
            # Archive pages are never rewritten by a build: the ones that list a hidden
            # article (and every later page of the same feed) go, and are written again.
            typer.echo(f"{drop_pages(stale)} archive pages to write again")
        report = guard(ctx, lambda: build(settings, store))
    typer.echo(
        f"{settings.output.dir}: {len(report.written)} files written,"
        f" {len(report.unchanged)} unchanged"
    )


@rules_app.command("site")
def rules_site(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="A host, such as www.esempio.it, or a URL.")],
    test: Annotated[
        bool,
        typer.Option(
            "--test", help="Fetch the rule's test_url pages and say whether it finds a body."
        ),
    ] = False,
) -> None:
    """Print the site rule in force for a host (rassegna's own or one from ingest.site_rules), in
    the FiveFilters format, with the file it comes from; exit 1 when there is none. With
    --test, fetch each test_url through the same client and address guard as every
    fetch and report what the rule extracts; exit 1 when one fails.

    Example: rassegna rules site www.esempio.it --test
    """
    from urllib.parse import urlsplit

    from rassegna.cli_common import fail, guard, settings_of
    from rassegna.fulltext import rule_for_host

    settings = settings_of(ctx)
    name = host.strip().lower()
    if "://" in name:
        name = urlsplit(name).hostname or ""
    rule = guard(ctx, lambda: rule_for_host(settings, name))
    if rule is None:
        fail(f"no site rule for {name}: its pages go to content_selector, then trafilatura")
    typer.echo(rule.describe())
    if test:
        _test_rule(ctx, settings, rule)


def _test_rule(ctx: typer.Context, settings: Settings, rule: SiteRule) -> None:
    from rassegna.cli_common import fail, guard
    from rassegna.fulltext import check_site_rule

    if not rule.tests:
        fail(f"{rule.path}: the rule has no test_url to try")
    checks = guard(ctx, lambda: check_site_rule(settings, rule))
    for check in checks:
        typer.echo(f"{'ok' if check.ok else 'FAILED'}: {check.url}: {check.detail}")
    failed = sum(not check.ok for check in checks)
    if failed:
        fail(f"{rule.path}: {failed} of {len(checks)} test_url pages failed")
