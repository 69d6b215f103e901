"""`feeds.publish`: atomic replacement, unchanged files left alone, clear errors."""

from __future__ import annotations

import errno
import gzip
import os
import stat
from pathlib import Path

import pytest

from feeds.errors import FeedError
from feeds.publish import publish_file, write_atomic, write_if_changed


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_writes_a_new_file_with_folders_and_readable_mode(tmp_path: Path) -> None:
    assert write_if_changed(tmp_path, "categoria/città/rss.xml", "perché".encode())
    target = tmp_path / "categoria" / "città" / "rss.xml"
    assert target.read_text("utf-8") == "perché"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert leftovers(tmp_path) == []


def test_files_are_readable_whatever_the_umask(tmp_path: Path) -> None:
    # systemd services often run with UMask=0077: nginx must still read what is published.
    old = os.umask(0o077)
    try:
        write_if_changed(tmp_path, "fonte/x/rss.xml", b"<rss/>")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "fonte" / "x" / "rss.xml").stat().st_mode) == 0o644


def test_publish_file_writes_the_twin_with_the_same_mtime_and_reports_the_stat(
    tmp_path: Path,
) -> None:
    written, st = publish_file(tmp_path, "tag/roma/atom.xml", b"<feed/>" * 100, fsync=False)
    target = tmp_path / "tag" / "roma" / "atom.xml"
    twin = target.with_name("atom.xml.gz")
    assert written
    assert (st.st_size, st.st_mtime_ns) == (target.stat().st_size, target.stat().st_mtime_ns)
    assert gzip.decompress(twin.read_bytes()) == b"<feed/>" * 100
    assert twin.stat().st_mtime_ns == target.stat().st_mtime_ns
    twin.unlink()
    assert publish_file(tmp_path, "tag/roma/atom.xml", b"<feed/>" * 100)[0] is False
    assert twin.stat().st_mtime_ns == target.stat().st_mtime_ns  # a missing twin comes back
    assert leftovers(tmp_path) == []


def test_a_twin_left_behind_by_a_crash_is_brought_up_to_date(tmp_path: Path) -> None:
    publish_file(tmp_path, "rss.xml", b"<rss>uno</rss>")
    # A crash between the two renames: the file is the new version, its twin the old.
    write_atomic(tmp_path, "rss.xml", b"<rss>due</rss>", mtime_ns=2_000_000_000)
    assert publish_file(tmp_path, "rss.xml", b"<rss>due</rss>")[0] is False
    twin = tmp_path / "rss.xml.gz"
    assert gzip.decompress(twin.read_bytes()) == b"<rss>due</rss>"
    assert twin.stat().st_mtime_ns == 2_000_000_000 == (tmp_path / "rss.xml").stat().st_mtime_ns


def test_unchanged_bytes_are_not_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "rss.xml"
    target.write_bytes(b"<rss/>")
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    inode = target.stat().st_ino
    assert write_if_changed(tmp_path, "rss.xml", b"<rss/>", fsync=True) is False
    assert target.stat().st_mtime_ns == 1_000_000_000
    assert target.stat().st_ino == inode


def test_changed_bytes_replace_the_file_atomically(tmp_path: Path) -> None:
    target = tmp_path / "rss.xml"
    target.write_bytes(b"old")
    reader = target.open("rb")  # a reader that opened the old file keeps reading it whole
    inode = target.stat().st_ino
    assert write_if_changed(tmp_path, "rss.xml", b"new and longer")
    assert target.read_bytes() == b"new and longer"
    assert target.stat().st_ino != inode  # renamed over, not rewritten in place
    assert reader.read() == b"old"
    reader.close()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failing_write_keeps_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "atom.xml"
    target.write_bytes(b"old content")

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, failing, no_space)
    with pytest.raises(FeedError) as caught:
        write_atomic(tmp_path, "atom.xml", b"new content")
    assert caught.value.message == (
        f"output.dir {tmp_path}: cannot write atom.xml: No space left on device"
    )
    monkeypatch.undo()
    assert target.read_bytes() == b"old content"
    assert leftovers(tmp_path) == []


def test_a_folder_in_the_way_is_reported(tmp_path: Path) -> None:
    (tmp_path / "fonte").write_text("a file, not a folder")
    with pytest.raises(FeedError, match=r"cannot write fonte/x/rss\.xml: .*directory"):
        write_if_changed(tmp_path, "fonte/x/rss.xml", b"data")
    assert leftovers(tmp_path) == []
