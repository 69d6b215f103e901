"""What every `rassegna` command shares: the global options, turning a user error into
one sentence and an exit code, loading the settings, opening the store, the progress bar.

The command modules (`cli_ingest`, `cli_sources`, `cli_articles`, `rules_cli`) import these
helpers; `cli` assembles the commands into the application.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from db.errors import StoreError
from db.store import Store
from feeds.errors import FeedError
from ingest.errors import IngestError
from rassegna.config import Settings, find_config, load_settings
from rassegna.errors import RassegnaError

log = logging.getLogger("rassegna")
T = TypeVar("T")

USER_ERRORS = (RassegnaError, StoreError, IngestError, FeedError)


@dataclass(slots=True)
class Options:
    """The global options, given before the command name."""

    config: str | None
    verbose: bool
    quiet: bool


def options_of(ctx: typer.Context) -> Options:
    options = ctx.find_root().obj
    assert isinstance(options, Options)
    return options


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print `message` as the one error sentence and exit with `code`."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}", markup=True
    )
    raise typer.Exit(code)


def guard(ctx: typer.Context, action: Callable[[], T]) -> T:
    """Run `action`; a user error becomes one sentence and exit 1 (traceback with -v)."""
    try:
        return action()
    except USER_ERRORS as exc:
        if options_of(ctx).verbose:
            log.exception("%s", exc.message)
        fail(exc.message)


def config_path_of(ctx: typer.Context) -> Path:
    """The configuration file the global options and the environment select."""
    return guard(ctx, lambda: find_config(options_of(ctx).config))


def settings_of(ctx: typer.Context) -> Settings:
    return guard(ctx, lambda: load_settings(find_config(options_of(ctx).config)))


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open the configured database, creating or upgrading its schema."""
    return Store.open(
        settings.database_url,
        migrate=migrate,
        pool_size=settings.scheduler.workers,
        page_timezone=settings.site.timezone,
    )


@contextmanager
def store_of(ctx: typer.Context, settings: Settings) -> Iterator[Store]:
    """The configured store, open for the command and closed after it."""
    store = guard(ctx, lambda: open_store(settings))
    try:
        yield store
    finally:
        store.close()


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Callable[[str], Callable[[int, int], None]] | None]:
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
