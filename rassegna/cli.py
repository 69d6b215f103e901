"""The `rassegna` command line: the application, its global options, and the commands
that run the program (`build`, `serve`, `run`, `status`, `check`, `db upgrade`).

Every command reads the configuration (`--config`, RASSEGNA_CONFIG, `config/rassegna.toml`,
`/etc/rassegna/rassegna.toml`), opens the database (upgrading its schema if needed) and
does one thing. Errors are one sentence on stderr and exit code 1; bad usage exits 2.
The commands that bring articles in, list sources or list articles live in `cli_ingest`,
`cli_sources` and `cli_articles`; their shared helpers in `cli_common`.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from db.engine import display_url
from db.errors import StoreError
from db.migrate import head_revision
from db.store import Store
from rassegna import __version__
from rassegna.cli_articles import articles, search
from rassegna.cli_common import (
    Options,
    config_path_of,
    fail,
    guard,
    open_store,
    settings_of,
    store_of,
)
from rassegna.cli_ingest import ingest, preview
from rassegna.cli_sources import sources_app
from rassegna.logs import setup_logging
from rassegna.rules_cli import rules_app

# The ingest and feeds machinery (and their libraries) is imported by the commands that
# use it, so `sources`, `articles`, `check` and --help start quickly.

log = logging.getLogger("rassegna")

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
app.add_typer(sources_app, name="sources")


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
                "Configuration file (default: config/rassegna.toml,"
                " then /etc/rassegna/rassegna.toml)."
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


def build_command(ctx: typer.Context) -> None:
    """Regenerate the feeds in the output folder from the stored articles.

    Files whose content did not change are not rewritten.

    Example: rassegna build
    """
    from rassegna.operations import build

    settings = settings_of(ctx)
    with store_of(ctx, settings) as store:
        report = guard(ctx, lambda: build(settings, store))
    typer.echo(
        f"{settings.output.dir}: {report.written_counts()}, {len(report.unchanged)} unchanged"
    )


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: server.host).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: server.port).")] = None,
) -> None:
    """Serve the output folder over HTTP (ETag, Last-Modified, 304 answers).

    Example: rassegna serve --port 8080
    """
    from rassegna.operations import search_feed
    from rassegna.server import app_for, serve_forever
    from rassegna.status import StatusPage

    settings = settings_of(ctx)
    bind_host = host or settings.server.host
    bind_port = port or settings.server.port
    # `/cerca` needs the database; the files do not, so a database that cannot be opened
    # costs only the search.
    store: Store | None = None
    try:
        store = open_store(settings)
    except StoreError as exc:
        log.warning("%s; /cerca and /stato are off", exc.message)
    try:
        search = search_feed(settings, store) if store is not None else None
        status = StatusPage(settings, store) if store is not None else None
        served = app_for(settings, search=search, status=status)
        guard(ctx, lambda: serve_forever(served, bind_host, bind_port))
    finally:
        if store is not None:
            store.close()


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

    config_path = config_path_of(ctx)
    settings = settings_of(ctx)
    with store_of(ctx, settings) as store:
        daemon = Daemon(settings, store, config_path=config_path)
        report = guard(ctx, lambda: daemon.run(once=once))
    if report is not None and report.errors:
        fail(f"{report.errors} sources had errors (see the log lines above)")


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

    settings = settings_of(ctx)
    with store_of(ctx, settings) as store:
        report = guard(ctx, lambda: collect(settings, store))
    print_status(report, json_output=as_json, console=Console(highlight=False))


def check(ctx: typer.Context) -> None:
    """Validate the configuration and reach the database.

    Example: rassegna --config /etc/rassegna/rassegna.toml check
    """
    path = config_path_of(ctx)
    settings = settings_of(ctx)
    from rassegna.rules_cli import keep_rule_warnings

    with store_of(ctx, settings) as store:
        guard(ctx, store.ping)
        revision = guard(ctx, store.schema_revision)
        warnings = guard(ctx, lambda: keep_rule_warnings(settings, store))
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
    settings = settings_of(ctx)
    engine_store = guard(ctx, lambda: open_store(settings, migrate=False))
    try:
        before, after = guard(ctx, engine_store.upgrade)
    finally:
        engine_store.close()
    where = display_url(settings.database_url)
    if before == after:
        typer.echo(f"database {where}: already at schema {after} (newest {head_revision()})")
    else:
        typer.echo(f"database {where}: upgraded from {before or 'empty'} to {after}")


def _add_commands() -> None:
    """The commands, in the order --help lists them; the command groups after them."""
    app.command()(ingest)
    app.command()(preview)
    app.command("build")(build_command)
    app.command()(serve)
    app.command()(run)
    app.command()(status)
    app.command()(articles)
    app.command()(search)
    app.command()(check)
    app.add_typer(rules_app, name="rules")


_add_commands()


def main() -> None:
    """Console script entry point."""
    app(prog_name="rassegna")
