"""Folder watching (`rassegna.folder_watch`): real inotify through watchfiles on temporary
folders, the watcher in a thread as the daemon runs it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rassegna.config import Settings, load_settings
from rassegna.folder_watch import changed_sources, watch_folders
from tests.conftest import write_site_config

WAIT_S = 15.0


def _settings(folder: Path, sources: dict[str, Path]) -> Settings:
    body = "".join(
        f'\n[[sources]]\nname = "{name}"\nkind = "files"\npath = "{path}"\n'
        for name, path in sources.items()
    )
    config = write_site_config(folder, f"sqlite:///{folder / 'store.db'}", body)
    return load_settings(config, environ={})


class Watching:
    """A running watcher: the names it asked to ingest, and the configuration it reads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.asked: queue.Queue[list[str]] = queue.Queue()


@contextmanager
def watching(settings: Settings) -> Iterator[Watching]:
    state = Watching(settings)
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_folders, args=(lambda: state.settings, stop, state.asked.put), daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(WAIT_S)
    assert not thread.is_alive()


def poke_until_asked(state: Watching, folder: Path, name: str) -> list[str]:
    """Write a new file into `folder` each second (the watcher may not be watching yet)
    until `name` is asked for; returns the names of that ask."""
    for attempt in range(int(WAIT_S)):
        (folder / f"articolo-{attempt}.txt").write_text("Titolo\n\nTesto.\n", encoding="utf-8")
        try:
            names = state.asked.get(timeout=1.0)
        except queue.Empty:
            continue
        if name in names:
            return names
    raise AssertionError(f"{folder} was never watched")


def test_a_new_file_asks_for_its_source_only(tmp_path: Path) -> None:
    one, two = tmp_path / "uno", tmp_path / "due"
    (one / "dentro").mkdir(parents=True)
    two.mkdir()
    with watching(_settings(tmp_path, {"Uno": one, "Due": two})) as state:
        assert poke_until_asked(state, one / "dentro", "Uno") == ["Uno"]
        assert poke_until_asked(state, two, "Due") == ["Due"]


def test_a_reload_watches_the_new_folders(tmp_path: Path) -> None:
    one, two = tmp_path / "uno", tmp_path / "due"
    one.mkdir()
    two.mkdir()
    with watching(_settings(tmp_path, {"Uno": one})) as state:
        poke_until_asked(state, one, "Uno")
        state.settings = _settings(tmp_path, {"Uno": one, "Due": two})
        # Noticed at the watcher's next wake-up (at most 2 s).
        assert poke_until_asked(state, two, "Due") == ["Due"]


def test_a_folder_that_reappears_is_watched(tmp_path: Path) -> None:
    one, later = tmp_path / "uno", tmp_path / "poi"
    one.mkdir()
    later.mkdir()
    settings = _settings(tmp_path, {"Uno": one, "Poi": later})
    later.rmdir()  # gone when the watcher starts (moved away and back, say)
    with watching(settings) as state:
        poke_until_asked(state, one, "Uno")
        later.mkdir()
        assert poke_until_asked(state, later, "Poi") == ["Poi"]


_SEGMENT = st.sampled_from(["a", "b", "c", "fonte", "x.txt"])


@given(
    folders=st.lists(st.lists(_SEGMENT, min_size=1, max_size=4), min_size=1, max_size=6),
    changed=st.lists(st.lists(_SEGMENT, min_size=1, max_size=6), max_size=8),
)
def test_changed_sources_is_the_parents_rule(
    folders: list[list[str]], changed: list[list[str]]
) -> None:
    """Equal to the rule it replaced: a source changed when its folder is the changed path
    or one of its parents (nested sources both count)."""
    watched = {Path("/srv", *parts): f"fonte-{i}" for i, parts in enumerate(folders)}
    paths = [str(Path("/srv", *parts)) for parts in changed]
    expected = {
        name
        for path in map(Path, paths)
        for folder, name in watched.items()
        if path == folder or folder in path.parents
    }
    assert changed_sources(paths, watched) == expected
