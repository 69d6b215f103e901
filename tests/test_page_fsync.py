"""A page build with `fsync=True` makes its renames and removals durable: the folders
whose entries changed are synced once their files are in place (`feeds.sitebuild`)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from db.records import SourceSpec
from db.store import Store
from feeds.build import build_feeds
from feeds.sitebuild import build_pages
from tests import factories

SITE = factories.site_info("Gazzetta della valle")
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
DESK = SourceSpec(name="Redazione della valle", kind="files", location="/tmp/valle")


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """The folders `os.fsync` is called on, in order (the real call still runs)."""
    folders: list[Path] = []
    real: Callable[[int], None] = os.fsync

    def recording(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            folders.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    yield folders


def _store_two(store: Store) -> int:
    source = store.ensure_source(DESK)
    store.upsert_articles(
        source,
        [
            factories.draft("mulino.md", "Riapre il mulino", "Il mulino macina di nuovo."),
            factories.draft(
                "sentiero.md", "Un sentiero nuovo", "Il sentiero sale al passo.", category="Gite"
            ),
        ],
    )
    return source


def _build(store: Store, out: Path) -> list[str]:
    report = build_feeds(store, SITE, out, fsync=False)
    return build_pages(store, SITE, out, specs=report.feeds, fsync=True, now=NOW).removed


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name the fds")
def test_new_pages_sync_their_folders_and_those_above(
    store: Store, out: Path, synced: list[Path]
) -> None:
    _store_two(store)
    _build(store, out)
    pages = {a.guid: out / a.page_path for a in store.latest_articles(10)}
    done = set(synced)
    for folder in pages.values():
        assert (folder / "index.html").is_file()
        # The page's folder, and every folder up to the output (one was made for it).
        assert {folder, *[p for p in folder.parents if out in p.parents]} <= done
    assert out in done
    assert out / "categoria" / "gite" in done


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name the fds")
def test_a_removed_page_syncs_the_folder_that_lost_it(
    store: Store, out: Path, synced: list[Path]
) -> None:
    source = _store_two(store)
    _build(store, out)
    mulino = next(a for a in store.latest_articles(10) if a.guid == "mulino.md")
    assert store.delete_source_articles(source, ["mulino.md"]) == 1
    synced.clear()
    removed = _build(store, out)
    assert f"{mulino.page_path}/index.html" in removed
    page = out / mulino.page_path
    assert not page.exists()
    # The page's emptied folder went too: the nearest folder left above it is synced.
    left = next(p for p in page.parents if p.is_dir())
    assert left in synced
    assert out in synced
