"""`rassegna ingest` and `rassegna preview`: bring articles in from configured sources or
from a path or URL given on the command line, or show what they would become without
storing them."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from db.records import ArticleDraft
from ingest import is_url
from rassegna.cli_common import fail, guard, options_of, progress_bars, settings_of, store_of
from rassegna.config import Settings

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport

# The ingest machinery (and its libraries) is imported inside the commands, so that the
# other commands and --help start quickly.

log = logging.getLogger("rassegna")


def _print_draft(console: Console, draft: ArticleDraft) -> None:
    """One article a dry run would store: date, title, link, and a few details."""
    console.print(
        f"{draft.published.isoformat(timespec='minutes')}  {draft.title}",
        highlight=False,
        markup=False,
    )
    details = [
        ("guid", draft.guid),
        ("url", draft.url or ""),
        ("authors", ", ".join(draft.authors)),
        ("image", draft.image_url or ""),
        ("summary", draft.summary[:160]),
        ("text", draft.content_text[:160].replace("\n", " ")),
    ]
    for key, value in details:
        if value:
            console.print(f"    {key}: {value}", highlight=False, markup=False)


def _looks_like_path(target: str) -> bool:
    if is_url(target):
        return False
    return (
        "/" in target
        or target.endswith((".txt", ".md"))
        or target in (".", "..")
        or Path(target).exists()
    )


def _print_report(console: Console, report: IngestReport) -> None:
    line = (
        f"{report.source}: {report.new} new, {report.changed} changed,"
        f" {report.same + report.unchanged_files} unchanged"
    )
    if report.problems:
        line += f", {len(report.problems)} skipped"
    if report.error:
        line += f" — {report.error}"
    console.print(line, highlight=False, markup=False)


def _split_targets(
    names: list[str], *, all_sources: bool, dry_run: bool, source_name: str | None
) -> tuple[list[str], list[str]]:
    """The URLs and the paths among `names`, once the options are known to fit them
    (bad usage exits 2)."""
    if not names and not all_sources:
        fail("name one or more sources, a path, or use --all (see rassegna ingest --help)", code=2)
    if names and all_sources:
        fail("give source names or --all, not both", code=2)
    urls = [n for n in names if is_url(n)]
    if dry_run and (len(urls) != len(names) or all_sources):
        fail("--dry-run works with URLs only", code=2)
    paths = [n for n in names if _looks_like_path(n)]
    if source_name is not None and (len(names) != 1 or len(paths) + len(urls) != 1):
        fail("--source goes with exactly one path or URL", code=2)
    return urls, paths


def _dry_run(ctx: typer.Context, settings: Settings, urls: list[str]) -> None:
    """Print what each URL would store, storing nothing."""
    from rassegna.operations import ingest_url

    console = Console(highlight=False)
    for url in urls:
        report = guard(
            ctx,
            partial(
                ingest_url,
                settings,
                None,
                url,
                dry_run=True,
                on_draft=partial(_print_draft, console),
            ),
        )
        console.print(
            f"{report.source}: {report.new} articles would be stored (dry run)",
            highlight=False,
            markup=False,
        )
        for problem in report.problems:
            console.print(f"    skipped {problem}", highlight=False, markup=False)


def _ingest_targets(
    ctx: typer.Context,
    settings: Settings,
    names: list[str],
    urls: list[str],
    paths: list[str],
    *,
    all_sources: bool,
    build_after: bool,
    source_name: str | None,
) -> list[IngestReport]:
    """Ingest the `urls`, then the `paths`, then the configured sources among the other
    `names` (all of them with `all_sources`), and rebuild the feeds if anything was stored."""
    from rassegna.operations import Ingest, build, draft_pool, ingest_url, select_sources

    reports: list[IngestReport] = []
    with (
        store_of(ctx, settings) as store,
        progress_bars(not options_of(ctx).quiet) as progress,
        draft_pool(settings) as pool,
    ):
        run = Ingest(settings, store, pool=pool)
        for url in urls:
            reports.append(
                guard(ctx, partial(ingest_url, settings, store, url, source_name=source_name))
            )
        for path in paths:
            hook = progress(path) if progress else None
            reports.append(guard(ctx, partial(run.path, Path(path), hook, source_name=source_name)))
        named = [n for n in names if n not in paths and n not in urls]
        sources = (
            guard(ctx, lambda: select_sources(settings, named)) if named or all_sources else []
        )
        for source in sources:
            hook = progress(source.name) if progress else None
            reports.append(run.source(source, hook))
        if build_after and any(r.stored for r in reports):
            built = guard(ctx, lambda: build(settings, store))
            log.info("build: %s, %d unchanged", built.written_counts(), len(built.unchanged))
    return reports


def _print_reports(reports: list[IngestReport]) -> None:
    """One line per source; skipped files or failed sources make the command fail."""
    console = Console(highlight=False)
    for report in reports:
        _print_report(console, report)
    skipped = sum(len(r.problems) for r in reports)
    failed = [r for r in reports if r.error]
    if skipped or failed:
        parts = []
        if skipped:
            parts.append(f"{skipped} article files skipped")
        if failed:
            parts.append(f"{len(failed)} sources failed")
        fail(" and ".join(parts) + " (see the log lines above)")


def ingest(
    ctx: typer.Context,
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Names of configured sources, or a file, folder or URL to ingest ad hoc.",
            show_default=False,
        ),
    ] = None,
    all_sources: Annotated[
        bool, typer.Option("--all", "-a", help="Ingest every enabled configured source.")
    ] = False,
    build_after: Annotated[
        bool,
        typer.Option(
            "--build/--no-build", help="Rebuild the feeds afterwards if anything changed."
        ),
    ] = True,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="With a URL: print what would be stored, store nothing."),
    ] = False,
    source_name: Annotated[
        str | None,
        typer.Option(
            "--source",
            help=(
                "With one path or URL: the source it goes to; a configured or earlier"
                " ad-hoc source keeps its identity, a new name makes an ad-hoc source"
                " (by default the folder's own name, or a feed's URL)."
            ),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Ingest sources now and store their articles.

    Examples:

      rassegna ingest --all

      rassegna ingest "Cronaca cittadina"

      rassegna ingest ./articoli/nuovo.md

      rassegna ingest ~/comunicati --source "Comunicati stampa"

      rassegna ingest https://www.esempio.it/feed/ --dry-run
    """
    names = targets or []
    urls, paths = _split_targets(
        names, all_sources=all_sources, dry_run=dry_run, source_name=source_name
    )
    settings = settings_of(ctx)
    if dry_run:
        _dry_run(ctx, settings, urls)
        return
    reports = _ingest_targets(
        ctx,
        settings,
        names,
        urls,
        paths,
        all_sources=all_sources,
        build_after=build_after,
        source_name=source_name,
    )
    _print_reports(reports)


def preview(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="An article file (.txt or .md), or a feed or page URL.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    full_text: Annotated[
        bool,
        typer.Option(
            "--full-text",
            help="For a feed URL: fetch each entry's article page, as full_text = true would.",
        ),
    ] = False,
) -> None:
    """Show an article as it will be published (every field normalized), without storing it.

    A URL shows every article it would give: a feed's entries, or the page's article.
    With --full-text, each entry also shows where its text would come from (text_source)
    and which extractor or site rule found it.

    Examples:

      rassegna preview examples/cultura/festival-jazz.md

      rassegna preview https://www.esempio.it/feed/ --json
    """
    from rassegna.preview import preview_file, preview_url

    settings = settings_of(ctx)
    if full_text and is_url(target):
        from rassegna.fulltext import preview_full_text

        articles = guard(ctx, lambda: preview_full_text(settings, target))
    elif is_url(target):
        articles = guard(ctx, lambda: preview_url(settings, target))
    else:
        articles = [guard(ctx, lambda: preview_file(settings, Path(target)))]
    if as_json:
        shown: object = articles if is_url(target) else articles[0]
        typer.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    console = Console(highlight=False)
    for number, fields in enumerate(articles):
        if number:
            console.print("─" * 40)
        for key, value in fields.items():
            if key in ("content_text", "content_html"):
                continue
            line = (
                ", ".join(value)
                if isinstance(value, list)
                else ("" if value is None else str(value))
            )
            console.print(f"[bold]{key}[/]: {line}", markup=True, soft_wrap=True)
        console.print()
        console.print(fields["content_text"], markup=False, soft_wrap=True)
