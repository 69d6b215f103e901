"""One daemon per SQLite database: an exclusive `flock` on a file beside the database.

SQLite copes with a CLI writer next to the daemon, but two schedulers would poll every
source twice. PostgreSQL deployments coordinate through the database instead.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from rassegna.errors import RassegnaError


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for other databases and memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


class DaemonLock:
    """Held for the life of `rassegna run` on a SQLite database; a second one fails fast."""

    def __init__(self, database_url: str) -> None:
        database = sqlite_path(database_url)
        self.path = database.with_name(database.name + ".daemon.lock") if database else None
        self._fd: int | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RassegnaError(
                f"another rassegna daemon (pid {holder}) already runs on this database;"
                f" lock file {self.path}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
