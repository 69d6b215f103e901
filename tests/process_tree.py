"""The processes below a process and their proportional set size, read from /proc: shared
by the daemon's memory test (`tests/test_pool_daemon.py`) and the bench's `daemon_rss_mb`
(`bench/daemon_bench.py`), which must count a process tree's memory the same way."""

from __future__ import annotations

import os


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the normalizer pool's forkserver and workers)."""
    tree = _children()
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = tree.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def pss_mb(pids: list[int]) -> float:
    """Proportional set size of the processes together: a page the workers share with
    each other counts once, as it costs the machine once (summed RSS would count it in
    every process)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024
