"""Measuring: interleaved rounds, medians, and the figure records the suite reports.

A measure is a function that prepares whatever it needs, times only the work being
measured and returns the elapsed seconds. `interleaved` runs several measures round after
round, rotating their order each round, so that a slow spell of this noisy machine hits
every measure alike; the figure is the median over the rounds.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

Measure = Callable[[], float]


def scale() -> str:
    """`default` or `large` (`BENCH_SCALE=large`)."""
    return "large" if os.environ.get("BENCH_SCALE", "").strip().lower() == "large" else "default"


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` then `t[0]` is the elapsed seconds (GC off inside)."""
    result: list[float] = []
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.append(time.perf_counter() - start)
        if enabled:
            gc.enable()


def timed(func: Callable[[], object]) -> float:
    """Seconds one call of `func` takes."""
    with stopwatch() as t:
        func()
    return t[0]


@dataclass(slots=True)
class Rounds:
    """The per-round times of each measure, and their medians."""

    samples: list[list[float]]

    def median(self, which: int) -> float:
        return statistics.median(self.samples[which])


def interleaved(measures: Sequence[Measure], rounds: int) -> Rounds:
    """Run each measure `rounds` times, interleaved, the order rotating every round."""
    samples: list[list[float]] = [[] for _ in measures]
    count = len(measures)
    for r in range(rounds):
        for k in range(count):
            which = (r + k) % count
            samples[which].append(measures[which]())
    return Rounds(samples)


def ms_each(rounds: Rounds, count: int, names: Sequence[str], digits: int) -> dict[str, float]:
    """Measure k's median in milliseconds per one of the `count` items it handles, under
    `names[k]`: the per-item times a ratio figure's details give beside the ratio."""
    return {name: round(rounds.median(k) / count * 1000, digits) for k, name in enumerate(names)}


def ratio(subject: float, baseline: float) -> float:
    return subject / baseline if baseline > 0 else float("inf")


@dataclass(slots=True)
class Figure:
    """One line of `results.json` and of the printed table."""

    name: str
    value: float | None
    unit: str
    baseline: str
    ratio: float | None
    target: str
    ok: bool | None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def at_most(limit: float) -> tuple[str, Callable[[float], bool]]:
    return f"<= {limit:g}", lambda x: x <= limit


def at_least(limit: float) -> tuple[str, Callable[[float], bool]]:
    return f">= {limit:g}", lambda x: x >= limit


def below(limit: float) -> tuple[str, Callable[[float], bool]]:
    return f"< {limit:g}", lambda x: x < limit


def ratio_figure(
    name: str,
    rounds: Rounds,
    *,
    baseline: str,
    target: tuple[str, Callable[[float], bool]],
    subject: int = 0,
    base: int = 1,
    details: dict[str, Any] | None = None,
) -> Figure:
    """A figure whose value is the median subject time over the median baseline time."""
    s, b = rounds.median(subject), rounds.median(base)
    value = ratio(s, b)
    text, check = target
    extra = {
        "subject_s": round(s, 6),
        "baseline_s": round(b, 6),
        "rounds": len(rounds.samples[subject]),
        "subject_rounds_s": [round(x, 6) for x in rounds.samples[subject]],
        "baseline_rounds_s": [round(x, 6) for x in rounds.samples[base]],
    }
    extra.update(details or {})
    return Figure(
        name=name,
        value=round(value, 4),
        unit="ratio",
        baseline=baseline,
        ratio=round(value, 4),
        target=text,
        ok=check(value),
        details=extra,
    )


def checked_figure(
    name: str,
    value: float,
    *,
    unit: str,
    baseline: str,
    target: tuple[str, Callable[[float], bool]],
    digits: int = 1,
    ratio: float | None = None,
    details: dict[str, Any] | None = None,
) -> Figure:
    """A figure measured by its family (an absolute value, or a ratio it computed
    itself), rounded to `digits`, with `ok` from `target`'s check."""
    text, check = target
    return Figure(
        name=name,
        value=round(value, digits),
        unit=unit,
        baseline=baseline,
        ratio=None if ratio is None else round(ratio, 4),
        target=text,
        ok=check(value),
        details=details or {},
    )


def per_thousand_figure(
    name: str,
    *,
    what: str,
    count: int,
    seconds: Sequence[float],
    cpu: Sequence[float],
    baseline: str,
    limit: float,
    details: dict[str, Any] | None = None,
) -> Figure:
    """An absolute figure: the median wall time of the rounds per 1,000 `what` (items,
    pages...) written, under `limit`. `cpu` (the CPU time of all the process's threads in
    the same rounds) goes in the details: on a loaded machine it says more than the wall
    time, which also counts the neighbours."""
    median = statistics.median(seconds)
    value = median / (count / 1000)
    extra: dict[str, Any] = {
        f"{what}_written": count,
        "build_s": round(median, 4),
        "rounds_s": [round(x, 4) for x in seconds],
        f"cpu_s_per_1000_{what}": round(statistics.median(cpu) / (count / 1000), 4),
    }
    extra.update(details or {})
    return checked_figure(
        name,
        value,
        unit=f"s per 1000 {what}",
        baseline=baseline,
        target=below(limit),
        digits=4,
        details=extra,
    )


def skipped(name: str, unit: str, target: str, reason: str) -> Figure:
    return Figure(name, None, unit, "-", None, target, None, {"skipped": reason})


def machine() -> dict[str, Any]:
    return {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }
