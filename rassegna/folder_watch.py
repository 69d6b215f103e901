"""Folder watching for the daemon: a `files` source is ingested as soon as its folder
changes, not at its next interval."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from rassegna.config import Settings

log = logging.getLogger("rassegna.daemon")

# Changes closer together than this are one change: a copied folder is one ingest.
WATCH_DEBOUNCE_MS = 300


def _watched(settings: Settings) -> dict[Path, str]:
    """The folders of the enabled `files` sources that exist, with their source's name."""
    return {
        s.path.resolve(): s.name
        for s in settings.sources
        if s.kind == "files" and s.enabled and s.path is not None and s.path.is_dir()
    }


def watch_folders(
    settings: Callable[[], Settings],
    stop: threading.Event,
    ingest: Callable[[list[str]], object],
) -> None:
    """Call `ingest` with the names of the sources whose folder changed, until `stop` is
    set. `settings` gives the configuration in force: after a reload, the new folders are
    watched."""
    from watchfiles import watch

    while not stop.is_set():
        folders = _watched(settings())
        if not folders:
            return
        try:
            for changes in watch(
                *folders,
                stop_event=stop,
                debounce=WATCH_DEBOUNCE_MS,
                step=50,
                yield_on_timeout=True,
                rust_timeout=2000,
                raise_interrupt=False,
            ):
                names = {
                    name
                    for _change, changed in changes
                    for folder, name in folders.items()
                    if Path(changed) == folder or folder in Path(changed).parents
                }
                if names:
                    log.info("folder changed: ingesting %s", ", ".join(sorted(names)))
                    ingest(sorted(names))
                current = {
                    s.path.resolve()
                    for s in settings().sources
                    if s.kind == "files" and s.enabled and s.path is not None
                }
                if current != set(folders):
                    break  # the configuration was reloaded: watch the new folders
        except (OSError, RuntimeError) as exc:
            log.warning("folder watching stopped: %s; relying on the schedule", exc)
            return
