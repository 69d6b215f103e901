"""A build says what it wrote by kind (feeds, pages, the rest), and the daemon logs that."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from db.store import Store
from tests.conftest import run_once
from tests.factories import build_with_pages
from tests.published import fill, site


def _on_disk(out: Path) -> dict[str, int]:
    names = [p.name for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    names = [n for n in names if not n.endswith(".gz")]
    feeds = sum(1 for n in names if n in {"rss.xml", "atom.xml", "feed.json"})
    pages = sum(1 for n in names if n.endswith(".html"))
    return {"feeds": feeds, "pages": pages, "other": len(names) - feeds - pages}


def test_a_first_build_counts_every_file_it_wrote_by_kind(store: Store, tmp_path: Path) -> None:
    fill(store)
    out = tmp_path / "public"
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    settings = site("https://notizie.example.it/")
    report = build_with_pages(store, out, settings, now)
    counts = report.written_counts()
    disk = _on_disk(out)
    assert (counts.feeds, counts.pages, counts.other) == (
        disk["feeds"],
        disk["pages"],
        disk["other"],
    )
    assert counts.feeds > 0 and counts.pages > 0 and counts.other > 0
    assert counts.total == len(report.written)
    assert str(counts) == (
        f"{counts.total} files written"
        f" ({counts.feeds} feeds, {counts.pages} pages, {counts.other} other)"
    )


def test_the_daemon_cycle_line_counts_feeds_and_pages_apart(tmp_path: Path) -> None:
    result = run_once(tmp_path)
    assert result.returncode == 0, result.stderr
    logged = result.stderr + result.stdout
    found = re.search(
        r"cycle: .* (\d+) files written \((\d+) feeds, (\d+) pages, (\d+) other\)", logged
    )
    assert found, logged
    total, feeds, pages, other = (int(n) for n in found.groups())
    assert total == feeds + pages + other
    disk = _on_disk(tmp_path / "out")
    assert (feeds, pages, other) == (disk["feeds"], disk["pages"], disk["other"])
    assert "feed files written" not in logged
