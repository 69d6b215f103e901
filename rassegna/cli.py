"""The `rassegna` command line.

Every command reads the configuration (`--config`, RASSEGNA_CONFIG, `config/rassegna.toml`,
`/etc/rassegna/rassegna.toml`), opens the database (upgrading its schema if needed) and
does one thing. Errors are one sentence on stderr and exit code 1; bad usage exits 2.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from db.engine import display_url
from db.errors import StoreError
from db.migrate import head_revision
from db.records import ArticleDraft, Section, SourceState
from db.source_removal import SourceNotEmptyError
from db.store import Store
from feeds.errors import FeedError
from ingest.errors import IngestError
from ingest.remote import is_url
from rassegna import __version__
from rassegna.config import Settings, find_config, load_settings
from rassegna.durations import format_duration
from rassegna.errors import RassegnaError
from rassegna.logs import setup_logging

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport

# The ingest and feeds machinery (and their libraries) is imported by the commands that
# use it, so `sources`, `articles`, `check` and --help start quickly.

log = logging.getLogger("rassegna")
T = TypeVar("T")

app = typer.Typer(
    name="rassegna",
    help=(
        "Ingest Italian news from files, feeds and pages, and publish them as RSS, Atom and"
        " JSON feeds.\n\nExample: rassegna --config config/rassegna.toml ingest --all"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    # Plain tracebacks for bugs: rich's show local variables, which may hold secrets.
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
sources_app = typer.Typer()
app.add_typer(sources_app, name="sources")

USER_ERRORS = (RassegnaError, StoreError, IngestError, FeedError)


@dataclass(slots=True)
class Options:
    config: str | None
    verbose: bool
    quiet: bool


def _options(ctx: typer.Context) -> Options:
    options = ctx.find_root().obj
    assert isinstance(options, Options)
    return options


def _fail(message: str, *, code: int = 1) -> NoReturn:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}", markup=True
    )
    raise typer.Exit(code)


def _guard(ctx: typer.Context, action: Callable[[], T]) -> T:
    """Run `action`; a user error becomes one sentence and exit 1 (traceback with -v)."""
    try:
        return action()
    except USER_ERRORS as exc:
        if _options(ctx).verbose:
            log.exception("%s", exc.message)
        _fail(exc.message)


def _settings(ctx: typer.Context) -> Settings:
    return _guard(ctx, lambda: load_settings(find_config(_options(ctx).config)))


def _open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open the configured database, creating or upgrading its schema."""
    return Store.open(settings.database_url, migrate=migrate, pool_size=settings.scheduler.workers)


@contextmanager
def _store(ctx: typer.Context, settings: Settings) -> Iterator[Store]:
    store = _guard(ctx, lambda: _open_store(settings))
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], Callable[[int, int], None]] | None]:
    """A progress bar on a terminal; nothing when output is piped or logged."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:

        def for_source(name: str) -> Callable[[int, int], None]:
            task = bar.add_task(name, total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return update

        yield for_source


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"rassegna {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            envvar="RASSEGNA_CONFIG",
            help=(
                "Configuration file [default: config/rassegna.toml,"
                " then /etc/rassegna/rassegna.toml]."
            ),
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug logging, tracebacks on errors.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    setup_logging(verbose=verbose, quiet=quiet)
    ctx.obj = Options(config=config, verbose=verbose, quiet=quiet)


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


@app.command()
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
    if not names and not all_sources:
        _fail("name one or more sources, a path, or use --all (see rassegna ingest --help)", code=2)
    if names and all_sources:
        _fail("give source names or --all, not both", code=2)
    urls = [n for n in names if is_url(n)]
    if dry_run and (len(urls) != len(names) or all_sources):
        _fail("--dry-run works with URLs only", code=2)
    paths = [n for n in names if _looks_like_path(n)]
    if source_name is not None and (len(names) != 1 or len(paths) + len(urls) != 1):
        _fail("--source goes with exactly one path or URL", code=2)
    from rassegna.operations import (
        build,
        draft_pool,
        ingest_path,
        ingest_source,
        ingest_url,
        select_sources,
    )

    settings = _settings(ctx)
    console = Console(highlight=False)
    reports: list[IngestReport] = []
    if dry_run:
        for url in urls:
            report = _guard(
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
        return
    with (
        _store(ctx, settings) as store,
        _progress(not _options(ctx).quiet) as progress,
        draft_pool(settings) as pool,
    ):
        for url in urls:
            reports.append(
                _guard(ctx, partial(ingest_url, settings, store, url, source_name=source_name))
            )
        for path in paths:
            hook = progress(path) if progress else None
            reports.append(
                _guard(
                    ctx,
                    partial(
                        ingest_path,
                        settings,
                        store,
                        Path(path),
                        hook,
                        pool,
                        source_name=source_name,
                    ),
                )
            )
        named = [n for n in names if n not in paths and n not in urls]
        sources = (
            _guard(ctx, lambda: select_sources(settings, named)) if named or all_sources else []
        )
        for source in sources:
            hook = progress(source.name) if progress else None
            reports.append(ingest_source(settings, store, source, hook, pool=pool))
        if build_after and any(r.stored for r in reports):
            built = _guard(ctx, lambda: build(settings, store))
            log.info("build: %s, %d unchanged", built.written_counts(), len(built.unchanged))
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
        _fail(" and ".join(parts) + " (see the log lines above)")


@app.command()
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

    settings = _settings(ctx)
    if full_text and is_url(target):
        from rassegna.fulltext import preview_full_text

        articles = _guard(ctx, lambda: preview_full_text(settings, target))
    elif is_url(target):
        articles = _guard(ctx, lambda: preview_url(settings, target))
    else:
        articles = [_guard(ctx, lambda: preview_file(settings, Path(target)))]
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


@app.command("build")
def build_command(ctx: typer.Context) -> None:
    """Regenerate the feeds in the output folder from the stored articles.

    Files whose content did not change are not rewritten.

    Example: rassegna build
    """
    from rassegna.operations import build

    settings = _settings(ctx)
    with _store(ctx, settings) as store:
        report = _guard(ctx, lambda: build(settings, store))
    typer.echo(
        f"{settings.output.dir}: {report.written_counts()}, {len(report.unchanged)} unchanged"
    )


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: server.host].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: server.port].")] = None,
) -> None:
    """Serve the output folder over HTTP (ETag, Last-Modified, 304 answers).

    Example: rassegna serve --port 8080
    """
    from rassegna.operations import search_feed
    from rassegna.server import app_for, serve_forever
    from rassegna.status import StatusPage

    settings = _settings(ctx)
    bind_host = host or settings.server.host
    bind_port = port or settings.server.port
    # `/cerca` needs the database; the files do not, so a database that cannot be opened
    # costs only the search.
    store: Store | None = None
    try:
        store = _open_store(settings)
    except StoreError as exc:
        log.warning("%s; /cerca and /stato are off", exc.message)
    try:
        search = search_feed(settings, store) if store is not None else None
        status = StatusPage(settings, store) if store is not None else None
        served = app_for(settings, search=search, status=status)
        _guard(ctx, lambda: serve_forever(served, bind_host, bind_port))
    finally:
        if store is not None:
            store.close()


@app.command()
def run(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Run one full cycle (ingest all, build) and exit.")
    ] = False,
) -> None:
    """Run the daemon in the foreground: ingest on schedule, rebuild, serve if enabled.

    Stop it with Ctrl-C or SIGTERM.

    Examples:

      rassegna run

      rassegna run --once
    """
    from rassegna.daemon import Daemon

    config_path = _guard(ctx, lambda: find_config(_options(ctx).config))
    settings = _settings(ctx)
    with _store(ctx, settings) as store:
        daemon = Daemon(settings, store, config_path=config_path)
        report = _guard(ctx, lambda: daemon.run(once=once))
    if report is not None and report.errors:
        _fail(f"{report.errors} sources had errors (see the log lines above)")


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


@sources_app.callback(invoke_without_command=True)
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
    settings = _settings(ctx)
    with _store(ctx, settings) as store:
        states = {s.name: s for s in _guard(ctx, store.source_states)}
        blocked = _guard(ctx, store.blocked_counts)
        fetched = _guard(ctx, store.fetched_page_counts)
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
                "interval_reason": interval_of(state).reason
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


@sources_app.command("remove")
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

    settings = _settings(ctx)
    if settings.source(name) is not None:
        _fail(
            f'source "{name}" is configured in {settings.origin}: remove its [[sources]]'
            " table there first"
        )
    with _store(ctx, settings) as store:

        def remove() -> int | None:
            try:
                return store.remove_source(name, with_articles=with_articles)
            except SourceNotEmptyError as exc:
                raise RassegnaError(
                    f"{exc.message}; add --articles to delete them with it"
                ) from exc

        deleted = _guard(ctx, remove)
        if deleted is None:
            _fail(f'no source named "{name}" in {display_url(settings.database_url)}')
        built = _guard(ctx, lambda: build(settings, store))
    typer.echo(
        f'source "{name}" removed with {deleted} articles; {settings.output.dir}:'
        f" {len(built.written)} files written, {len(built.removed)} removed"
    )


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Summarize what every source is doing, failing ones first, and how much arrives
    (the /stato page in the terminal).

    Example: rassegna status --json
    """
    from rassegna.status import collect
    from rassegna.status_cli import print_status

    settings = _settings(ctx)
    with _store(ctx, settings) as store:
        report = _guard(ctx, lambda: collect(settings, store))
    print_status(report, json_output=as_json, console=Console(highlight=False))


@app.command()
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
    settings = _settings(ctx)
    with _store(ctx, settings) as store:
        # Both given: the source, the narrower of the two, wins.
        section = (
            Section("source", source)
            if source is not None
            else Section("category", category)
            if category is not None
            else None
        )
        latest = _guard(ctx, lambda: store.latest_articles(limit, section))
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


@app.command()
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

    settings = _settings(ctx)
    try:
        after = search_since(since)
    except ValueError as exc:
        _fail(f"--since: {exc}", code=2)
    with _store(ctx, settings) as store:
        hits = _guard(
            ctx,
            lambda: search_hits(
                store, query, source=source, category=category, since=after, limit=limit
            ),
        )
    if as_json:
        typer.echo(json.dumps(hits_json(hits), ensure_ascii=False, indent=2))
        return
    print_hits(hits)


@app.command()
def check(ctx: typer.Context) -> None:
    """Validate the configuration and reach the database.

    Example: rassegna --config /etc/rassegna/rassegna.toml check
    """
    path = _guard(ctx, lambda: find_config(_options(ctx).config))
    settings = _settings(ctx)
    from rassegna.rules_cli import keep_rule_warnings

    with _store(ctx, settings) as store:
        _guard(ctx, store.ping)
        revision = _guard(ctx, store.schema_revision)
        warnings = _guard(ctx, lambda: keep_rule_warnings(settings, store))
    typer.echo(f"{path}: configuration is valid ({len(settings.sources)} sources)")
    typer.echo(f"database {display_url(settings.database_url)}: reachable, schema {revision}")
    typer.echo(f"output folder: {settings.output.dir}")
    for warning in warnings:
        typer.echo(f"warning: {warning}")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create the schema or bring it to the newest version (safe to run repeatedly).

    Example: rassegna db upgrade
    """
    settings = _settings(ctx)
    engine_store = _guard(ctx, lambda: _open_store(settings, migrate=False))
    try:
        before, after = _guard(ctx, engine_store.upgrade)
    finally:
        engine_store.close()
    where = display_url(settings.database_url)
    if before == after:
        typer.echo(f"database {where}: already at schema {after} (newest {head_revision()})")
    else:
        typer.echo(f"database {where}: upgraded from {before or 'empty'} to {after}")


def _add_groups() -> None:
    """Command groups kept in modules of their own (they import this module's helpers
    inside their commands)."""
    from rassegna.rules_cli import rules_app

    app.add_typer(rules_app, name="rules")


_add_groups()


def main() -> None:
    """Console script entry point."""
    app(prog_name="rassegna")
