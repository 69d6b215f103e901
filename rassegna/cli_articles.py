"""`rassegna articles` and `rassegna search`: the stored articles, newest first or best
match first."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from db.records import Section
from rassegna.cli_common import fail, guard, settings_of, store_of


def articles(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many.")] = 20,
    source: Annotated[str | None, typer.Option(help="Only this source (its slug).")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category (its slug).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the latest stored articles, newest first.

    Example: rassegna articles --limit 5 --category cronaca
    """
    settings = settings_of(ctx)
    with store_of(ctx, settings) as store:
        # Both given: the source, the narrower of the two, wins.
        section = (
            Section("source", source)
            if source is not None
            else Section("category", category)
            if category is not None
            else None
        )
        latest = guard(ctx, lambda: store.latest_articles(limit, section))
    if as_json:
        payload = []
        for article in latest:
            item = asdict(article)
            for key in ("published", "updated", "ingested"):
                item[key] = item[key].isoformat()
            payload.append(item)
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    table = Table("published", "title", "category", "source")
    for article in latest:
        table.add_row(
            article.published.astimezone().strftime("%Y-%m-%d %H:%M"),
            article.title,
            article.category.name if article.category else "",
            article.source_name,
        )
    Console().print(table)


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help='Words; "a phrase", -excluded, a OR b.')],
    source: Annotated[str | None, typer.Option(help="Only this source (its slug).")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category (its slug).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only articles published in this last period, e.g. 7d.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500, help="How many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Search the stored articles, best matches first, with highlighted snippets.

    Accents are optional and words match their Italian forms (elezione finds elezioni).

    Example: rassegna search '"Corea del Nord" putin -ucraina' --since 7d
    """
    from rassegna.search import hits_json, print_hits, search_hits, search_since

    settings = settings_of(ctx)
    try:
        after = search_since(since)
    except ValueError as exc:
        fail(f"--since: {exc}", code=2)
    with store_of(ctx, settings) as store:
        hits = guard(
            ctx,
            lambda: search_hits(
                store, query, source=source, category=category, since=after, limit=limit
            ),
        )
    if as_json:
        typer.echo(json.dumps(hits_json(hits), ensure_ascii=False, indent=2))
        return
    print_hits(hits)
