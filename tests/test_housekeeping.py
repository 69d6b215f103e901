"""Nightly housekeeping: retention never deletes what a published feed still shows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from db.records import ArticleDraft, Section, SourceSpec
from db.store import Store
from rassegna.config import load_settings
from rassegna.daemon import Daemon
from tests.conftest import write_config
from tests.factories import draft

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _draft(n: int, days_old: int, category: str) -> ArticleDraft:
    return draft(
        f"a{n}",
        f"Notizia numero {n} di {category}",
        "Testo.",
        summary="Sommario.",
        published=NOW - timedelta(days=days_old, minutes=n),
        category=category,
    )


@contextmanager
def stocked(folder: Path, output: str, drafts: list[ArticleDraft]) -> Iterator[Daemon]:
    """A daemon whose config has the `[output]` settings `output` and one files source
    holding `drafts`, its store open for the length of the block."""
    (folder / "vuota").mkdir()
    config = write_config(
        folder,
        f"""
[output]
archive = false
min_tag_articles = 100
{output}

[[sources]]
name = "Tutto"
kind = "files"
path = "vuota"
""",
    )
    settings = load_settings(config, environ={})
    store = Store.open(settings.database_url)
    try:
        sid = store.ensure_source(SourceSpec("Tutto", "files", str(folder / "vuota")))
        store.upsert_articles(sid, drafts)
        yield Daemon(settings, store)
    finally:
        store.close()


def test_retention_keeps_what_feeds_show(tmp_path: Path) -> None:
    # Ten recent articles in "Cronaca", and old ones: five more in "Cronaca", and one
    # alone in "Meteo", which the Meteo feed still shows however old it is.
    drafts = [_draft(n, 1, "Cronaca") for n in range(10)]
    drafts += [_draft(10 + n, 90, "Cronaca") for n in range(5)]
    drafts.append(_draft(99, 400, "Meteo"))
    with stocked(tmp_path, "items_per_feed = 3\nkeep_days = 30", drafts) as daemon:
        deleted = daemon.housekeeping(now=NOW)
        remaining = {a.guid for a in daemon.store.latest_articles(100)}
        assert deleted == 5
        assert remaining == {f"a{n}" for n in range(10)} | {"a99"}
        meteo = daemon.store.latest_articles(10, Section("category", "meteo"))
        assert [a.guid for a in meteo] == ["a99"]
        # Nothing more to do the next night.
        assert daemon.housekeeping(now=NOW) == 0


def test_max_per_source(tmp_path: Path) -> None:
    drafts = [_draft(n, n, "Cronaca") for n in range(10)]
    with stocked(tmp_path, "items_per_feed = 2\nmax_per_source = 4", drafts) as daemon:
        assert daemon.housekeeping(now=NOW) == 6
        assert [a.guid for a in daemon.store.latest_articles(100)] == ["a0", "a1", "a2", "a3"]
