"""Atomic publishing: a file is replaced only when its bytes change, and never half-written.

A reader (or nginx) must always see either the old file or the new one, so the new bytes
go to a temporary file in the same folder (same file system, so the rename is atomic),
are fsynced, and then `os.replace` puts them in place. An unchanged file is not touched at
all, so its mtime, and with it the HTTP `Last-Modified`/`ETag`, stay put.

Next to each published file lies its gzip twin (`rss.xml.gz`), for `rassegna serve` and
nginx's `gzip_static`: written only when the file itself is, compressed with a fixed
header mtime (0) so equal input gives equal bytes, and given the file's own mtime so both
representations announce the same `Last-Modified`.
"""

# str paths and os calls on purpose: this runs for every file of a build on the writer
# threads, and pathlib's objects cost more there than the system calls themselves.
# ruff: noqa: PTH102, PTH103, PTH105, PTH108, PTH116, PTH118, PTH123

from __future__ import annotations

import contextlib
import gzip
import os
import random
import stat as stat_module
from pathlib import Path

from feeds.errors import FeedError

FILE_MODE = 0o644  # readable by the web server, whatever the daemon's umask
GZIP_SUFFIX = ".gz"
# Level 3, zlib's last "fast" level: compression is a large share of a full build, and
# this level takes well under half the CPU time of the default 6 for files only somewhat
# larger, still far smaller than the plain bytes; levels 1-2 save no more time and
# compress worse (figures in bench/README.md).
GZIP_LEVEL = 3


def _fail(root: Path, relative: str, exc: OSError) -> FeedError:
    reason = exc.strerror or str(exc)
    return FeedError(f"output.dir {root}: cannot write {relative}: {reason}")


def same_bytes(path: str | Path, data: bytes) -> bool:
    """Whether `path` already holds exactly `data` (a size check first, as it is free)."""
    try:
        if os.stat(path).st_size != len(data):
            return False
        with open(path, "rb") as handle:
            return handle.read() == data
    except OSError:
        # Missing or unreadable: rewrite it; a real problem surfaces as a FeedError there.
        return False


# A full build writes hundreds of files on worker threads while the main thread renders;
# each system call there is a hand-over of the GIL, and writing is a large part of a
# build. So a write is the fewest calls that keep it atomic: no folder check when the
# folder exists, no path-based chmod or stat, the twin's mtime set on its descriptor.
_TEMPORARY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _open_temporary(folder: str, name: str) -> tuple[int, str]:
    """A new hidden file `.name.<random>.tmp` in `folder` (created if missing), open for
    writing, and its path."""
    made_folder = False
    while True:
        # O_EXCL, not the name, keeps the file ours, so the name need not be
        # unpredictable: `random` draws it without the system call `os.urandom` makes.
        path = os.path.join(folder, f".{name}.{random.getrandbits(48):012x}.tmp")
        try:
            return os.open(path, _TEMPORARY_FLAGS, FILE_MODE), path
        except FileExistsError:
            continue  # 48 random bits taken already: draw again
        except FileNotFoundError:
            if made_folder:
                raise
            _make_folder(folder)
            made_folder = True


def _make_folder(folder: str) -> None:
    # Mostly only the file's own folder is new (an article page's): one mkdir, and the
    # walk up that `os.makedirs` starts with only when its parent is missing too.
    try:
        with contextlib.suppress(FileExistsError):  # made meanwhile by another writer
            os.mkdir(folder)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_atomic(
    root: Path, relative: str, data: bytes, *, fsync: bool = True, mtime_ns: int | None = None
) -> os.stat_result:
    """Replace `root/relative` with `data` atomically, creating folders as needed; the
    file's mtime is `mtime_ns` when given. Returns the new file's stat.

    Raises FeedError naming the output folder and the file when it cannot be written; the
    old file, if any, is then left as it was and no temporary file remains.
    """
    folder, name = os.path.split(os.path.join(root, relative))
    tmp: str | None = None
    try:
        fd, tmp = _open_temporary(folder, name)
        try:
            _write_all(fd, data)
            if mtime_ns is not None:
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            # Size and mtime are what the build state records; a rename changes neither.
            stat = os.fstat(fd)
            if stat_module.S_IMODE(stat.st_mode) != FILE_MODE:
                # The umask narrowed it, and a web server must read it.
                os.fchmod(fd, FILE_MODE)
                stat = os.fstat(fd)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(folder, name))
        return stat
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise _fail(root, relative, exc) from exc


def write_if_changed(root: Path, relative: str, data: bytes, *, fsync: bool = True) -> bool:
    """Write `data` to `root/relative` unless it already holds it; True when written."""
    return publish_file(root, relative, data, fsync=fsync, gzip_twin=False)[0]


def fsync_dir(folder: Path) -> None:
    """Make renames in `folder` durable; best effort (some file systems refuse it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def gzip_bytes(data: bytes) -> bytes:
    """`data` gzipped reproducibly: no file name and a zero mtime in the header."""
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def publish_file(
    root: Path, relative: str, data: bytes, *, fsync: bool = True, gzip_twin: bool = True
) -> tuple[bool, os.stat_result]:
    """Write `relative` if its bytes changed, and (with `gzip_twin`) its gzip twin
    `relative.gz` with the file's own mtime when the file is written or the twin is not
    the file's (missing, or another mtime: a crash came between the two renames). Returns
    whether `relative` itself was written, and its stat."""
    path = os.path.join(root, relative)
    if same_bytes(path, data):
        written = False
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise _fail(root, relative, exc) from exc
    else:
        written = True
        stat = write_atomic(root, relative, data, fsync=fsync)
    if gzip_twin and (written or not _twin_matches(path + GZIP_SUFFIX, stat)):
        write_atomic(
            root, relative + GZIP_SUFFIX, gzip_bytes(data), fsync=fsync, mtime_ns=stat.st_mtime_ns
        )
    return written, stat


def _twin_matches(twin: str, stat: os.stat_result) -> bool:
    # A twin is only ever written with its file's mtime, so another one means it holds
    # an older version of the file.
    try:
        return os.stat(twin).st_mtime_ns == stat.st_mtime_ns
    except OSError:
        return False
