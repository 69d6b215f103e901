"""Memory held by the long-running daemon: fewer malloc arenas for its worker threads, and
the heap's free pages handed back to the system after each tick. No-ops off glibc."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

M_ARENA_MAX = -8  # glibc's mallopt() parameter number
MALLOC_ARENAS = 2


@cache  # find_library runs `ldconfig -p` in a subprocess: once per process, not per tick
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def limit_malloc_arenas() -> None:
    """Two malloc arenas instead of glibc's up to 8 per core: each worker thread would get
    its own, and what one frees stays in its arena, so a pool of ingest workers grows the
    resident size by tens of MB of free heap. The workers mostly wait on the network and
    the database, so two arenas cost no measurable contention. No-op off glibc."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def trim_heap() -> None:
    """Hand the heap's free pages back to the system after a tick (glibc keeps them)."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)
