"""`rassegna sources`: each source and the state of its fetches, configured or not, and
`rassegna sources remove` for the ones no longer configured."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from db.engine import display_url
from db.records import SourceState
from db.source_removal import SourceNotEmptyError
from rassegna.cli_common import fail, guard, settings_of, store_of
from rassegna.config import Settings
from rassegna.durations import format_duration
from rassegna.errors import RassegnaError


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def sources(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show each source and the state of its last fetch: the configured ones, then the
    ad-hoc ones (from `rassegna ingest PATH|URL`) and those no longer configured.

    Examples:

      rassegna sources --json

      rassegna sources remove comunicati --articles
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_of(ctx)
    with store_of(ctx, settings) as store:
        states = {s.name: s for s in guard(ctx, store.source_states)}
        blocked = guard(ctx, store.blocked_counts)
        fetched = guard(ctx, store.fetched_page_counts)
    rows = _source_rows(settings, states, blocked, fetched)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _print_sources(rows)


def _source_rows(
    settings: Settings,
    states: dict[str, SourceState],
    blocked: dict[str, int],
    fetched: dict[str, tuple[int, int]],
) -> list[dict[str, Any]]:
    """One row per source: the configured ones in their order, then those only the store
    knows (ad hoc, or dropped from the configuration)."""
    from rassegna.status import interval_of

    rows: list[dict[str, Any]] = []
    for source in settings.sources:
        state = states.pop(source.name, None)
        rows.append(
            {
                "name": source.name,
                "origin": "configured",
                "kind": source.kind,
                "location": source.location,
                "category": source.category,
                "interval": format_duration(
                    interval_of(state).seconds if state else settings.interval_of(source)
                ),
                "interval_reason": interval_of(state).why
                if state
                else ("adaptive" if settings.is_adaptive(source) else "configured"),
                "enabled": source.enabled,
                **_state_fields(state),
                "blocked": blocked.get(source.name, 0),
                "full_text": source.full_text,
                "full_text_ok": fetched.get(source.name, (0, 0))[0],
                "full_text_failed": fetched.get(source.name, (0, 0))[1],
            }
        )
    for state in states.values():
        rows.append(
            {
                "name": state.name,
                "origin": "ad-hoc" if state.ad_hoc else "dropped",
                "kind": state.kind,
                "location": state.location,
                "category": state.category,
                "interval": None,
                "interval_reason": None,
                "enabled": False,
                **_state_fields(state),
                "blocked": blocked.get(state.name, 0),
                "full_text": False,
                "full_text_ok": fetched.get(state.name, (0, 0))[0],
                "full_text_failed": fetched.get(state.name, (0, 0))[1],
            }
        )
    return rows


def _print_sources(rows: list[dict[str, Any]]) -> None:
    table = Table(
        "name",
        "kind",
        "articles",
        "blocked",
        "interval",
        "last fetch",
        "next due",
        "error",
    )
    for row in rows:
        if row["origin"] != "configured":  # never polled: say what it is instead
            due = f"{row['origin']}, not polled"
        else:
            due = "never (gone)" if row["gone"] else row["next_due"] or "now"
        table.add_row(
            row["name"],
            row["kind"],
            str(row["articles"]),
            str(row["blocked"]),
            f"{row['interval']} ({row['interval_reason']})" if row["interval"] else "",
            row["last_fetch"] or "never",
            due,
            row["last_error"] or (f"malformed feed: {row['bozo']}" if row["bozo"] else ""),
        )
    Console().print(table)


def _state_fields(state: SourceState | None) -> dict[str, Any]:
    """What the store knows of a source's fetches (nothing yet: never fetched)."""
    return {
        "articles": state.article_count if state else 0,
        "last_fetch": _iso(state.last_fetch if state else None),
        "last_error": state.last_error if state else None,
        "consecutive_errors": state.consecutive_errors if state else 0,
        "next_due": _iso(state.next_due if state else None),
        "gone": state.gone if state else False,
        "last_status": state.last_status if state else None,
        "bozo": state.bozo if state else None,
        "fetch_url": state.fetch_url if state else None,
        "retry_after": _iso(state.retry_after if state else None),
    }


def sources_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The source's name, as `rassegna sources` shows it.")],
    with_articles: Annotated[
        bool,
        typer.Option(
            "--articles", help="Delete its articles too (a source holding some needs it)."
        ),
    ] = False,
) -> None:
    """Remove an ad-hoc source, or one no longer configured, then rebuild the feeds.

    A configured source is refused: take it out of the configuration first. A source
    holding articles is removed only with --articles, which deletes them.

    Example: rassegna sources remove comunicati --articles
    """
    from rassegna.operations import build

    settings = settings_of(ctx)
    if settings.source(name) is not None:
        fail(
            f'source "{name}" is configured in {settings.origin}: remove its [[sources]]'
            " table there first"
        )
    with store_of(ctx, settings) as store:

        def remove() -> int | None:
            try:
                return store.remove_source(name, with_articles=with_articles)
            except SourceNotEmptyError as exc:
                raise RassegnaError(
                    f"{exc.message}; add --articles to delete them with it"
                ) from exc

        deleted = guard(ctx, remove)
        if deleted is None:
            fail(f'no source named "{name}" in {display_url(settings.database_url)}')
        built = guard(ctx, lambda: build(settings, store))
    typer.echo(
        f'source "{name}" removed with {deleted} articles; {settings.output.dir}:'
        f" {len(built.written)} files written, {len(built.removed)} removed"
    )


sources_app = typer.Typer()
sources_app.callback(invoke_without_command=True)(sources)
sources_app.command("remove")(sources_remove)
