"""Output paths: no category, tag or source name can write outside `output.dir`; a
read-only output folder or a full disk keeps the old feeds, reports, and the next build
retries."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from db.records import ArticleDraft, SourceSpec
from db.store import Store
from feeds.build import build_feeds
from feeds.errors import FeedError
from feeds.site import SiteInfo
from tests import factories
from tests.factories import contents
from tests.reliability_helpers import assert_output_valid

SITE = SiteInfo("Prova", "http://127.0.0.1/", "http://127.0.0.1/")
HOSTILE_NAMES = [
    "../../etc",
    "../../../../../../tmp/rassegna-escape",
    "/etc/passwd",
    "..",
    ".",
    "~root",
    "a/../../b",
    "..\\..\\windows",
    "%2e%2e%2f%2e%2e%2fetc",
    "\x00nul",
    "CON",
    "nome\ncon a capo",
    "⁄etc⁄fullwidth∕slash",
    "．．／．．／etc",
]


def draft(n: int, *, category: str | None, tags: tuple[str, ...] = ()) -> ArticleDraft:
    return factories.draft(
        f"g{n}",
        f"Articolo {n}",
        f"Testo {n}.",
        summary="Sommario.",
        published=datetime(2026, 11, 2, 10, n % 60, tzinfo=UTC),
        category=category,
        tags=tags,
    )


def _inside(root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def test_hostile_names_stay_inside_the_output_folder(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "area" / "public"
    out.parent.mkdir()
    for n, name in enumerate(HOSTILE_NAMES):
        source = store.ensure_source(SourceSpec(name, "files", str(tmp_path / f"s{n}")))
        store.upsert_articles(
            source,
            [
                draft(2 * n, category=name, tags=(name,)),
                draft(2 * n + 1, category=name, tags=(name,)),
            ],
        )
    before = {p for p in tmp_path.rglob("*")}
    report = build_feeds(store, SITE, out, fsync=False)
    created = {p for p in tmp_path.rglob("*")} - before
    assert created and all(_inside(out, p) for p in created), sorted(created)
    for relative in report.written:
        assert _inside(out, out / relative), relative
        assert ".." not in Path(relative).parts
    assert not Path("/tmp/rassegna-escape").exists()
    folders = {p.parent.relative_to(out).as_posix() for p in out.rglob("rss.xml")}
    # Every section got a folder of its own: one per category, source and tag.
    assert len([f for f in folders if f.startswith("categoria/")]) >= len(HOSTILE_NAMES) - 4
    assert all(
        part and part not in (".", "..") and "/" not in part and "\\" not in part
        for folder in folders
        for part in folder.split("/")[1:]
    )
    assert assert_output_valid(out) >= 3 * len(folders)


def _articles(store: Store, count: int, offset: int = 0) -> None:
    source = store.ensure_source(SourceSpec("Fonte", "files", "/nonexistent"))
    store.upsert_articles(source, [draft(offset + n, category="Cronaca") for n in range(count)])


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_output_keeps_old_feeds_and_retries(store: Store, tmp_path: Path) -> None:
    _read_only_case(store, tmp_path)


def _published_then_two_more(store: Store, out: Path) -> dict[str, bytes]:
    """Publish three articles into `out`, then store two more: the files as published."""
    _articles(store, 3)
    build_feeds(store, SITE, out, fsync=False)
    published = contents(out)
    _articles(store, 2, offset=10)
    return published


def _refused(store: Store, out: Path, published: dict[str, bytes]) -> str:
    """A build that cannot write: one sentence naming `out`, every file as it was."""
    with pytest.raises(FeedError) as failure:
        build_feeds(store, SITE, out, fsync=False)
    message = failure.value.message
    assert str(out) in message and "\n" not in message
    assert contents(out) == published
    return message


def _retried(store: Store, out: Path, published: dict[str, bytes]) -> None:
    """The next build, writes allowed again, publishes the two new articles."""
    build_feeds(store, SITE, out, fsync=False)
    assert contents(out) != published
    assert b"Articolo 11" in (out / "rss.xml").read_bytes()
    assert assert_output_valid(out) >= 6


def _read_only_case(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "public"
    published = _published_then_two_more(store, out)
    folders = [out, *[p for p in out.rglob("*") if p.is_dir()]]
    for folder in folders:
        folder.chmod(0o555)
    try:
        _refused(store, out, published)
        assert assert_output_valid(out) >= 6
    finally:
        for folder in folders:
            folder.chmod(0o755)
    _retried(store, out, published)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs: a real full disk (needs root and mount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_read_only_mount_keeps_old_feeds_and_retries(store: Store, tiny_disk: Path) -> None:
    """As root, permissions do not stop writes; a file system remounted read-only does."""
    out = tiny_disk / "public"
    published = _published_then_two_more(store, out)
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    try:
        message = _refused(store, out, published)
        assert any(reason in message for reason in ("Read-only file system", "Permission denied"))
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tiny_disk)], check=True)
    _retried(store, out, published)


def test_full_disk_keeps_old_feeds_and_retries(store: Store, tiny_disk: Path) -> None:
    out = tiny_disk / "public"
    _articles(store, 2)
    build_feeds(store, SITE, out, fsync=False)
    old = contents(out)
    assert assert_output_valid(out) >= 6
    # Many long articles: the new feeds no longer fit in 512 KiB.
    source = store.ensure_source(SourceSpec("Fonte", "files", "/nonexistent"))
    big = [
        factories.draft(
            f"big{n}",
            f"Articolo lungo {n}",
            "parola " * 2000,
            summary="Sommario.",
            published=datetime(2026, 11, 3, 10, n, tzinfo=UTC),
            category="Cronaca",
        )
        for n in range(20)
    ]
    store.upsert_articles(source, big)
    with pytest.raises(FeedError) as failure:
        build_feeds(store, SITE, out, fsync=False)
    message = failure.value.message
    assert "No space left on device" in message and "\n" not in message
    # Each file is replaced atomically: the one that did not fit is still the old one,
    # others may already be new, and every one of them is whole.
    failed = message.split("cannot write ", 1)[1].split(":", 1)[0]
    now = contents(out)
    assert set(now) == set(old) and now[failed] == old[failed]
    assert assert_output_valid(out) >= 6
    assert not [p for p in out.rglob(".*.tmp")]  # no temporary file left behind
    # Space comes back (the big articles go): the next build succeeds.
    store.delete_source_articles(source, [d.guid for d in big])
    _articles(store, 1, offset=30)
    build_feeds(store, SITE, out, fsync=False)
    assert b"Articolo 30" in (out / "rss.xml").read_bytes()
    assert assert_output_valid(out) >= 6
