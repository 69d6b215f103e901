"""`python -m bench`: run every figure, write `bench/results.json`, print the table.

Exit code 0 whether targets are met or missed (missed ones are printed in red and listed);
non-zero only when a figure family crashed (its error is in the results and printed).
`BENCH_ONLY=normalize,build` runs only the named families. A run at `BENCH_SCALE=large`
merges its figures into `bench/results-large.json` instead (each figure replacing the one
of the same name; the others are kept), so the large families can be run one at a time.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.context import DEFAULT, LARGE, Context
from bench.timing import Figure, machine, scale

RESULTS = Path(__file__).resolve().parent / "results.json"
RESULTS_LARGE = RESULTS.with_name("results-large.json")

Family = Callable[[Context], list[Figure]]


def _normalize(ctx: Context) -> list[Figure]:
    from bench import normalize_bench

    return normalize_bench.run(ctx.corpus)


def _ingest(ctx: Context) -> list[Figure]:
    from bench import ingest_bench

    return ingest_bench.run_new_files(ctx)


def _reingest(ctx: Context) -> list[Figure]:
    from bench import ingest_bench

    return ingest_bench.run_reingest(ctx)


def _build(ctx: Context) -> list[Figure]:
    from bench import build_bench

    return build_bench.run(ctx)


def _build_growth(ctx: Context) -> list[Figure]:
    from bench import build_bench

    return build_bench.run_growth(ctx)


def _ingest_growth(ctx: Context) -> list[Figure]:
    from bench import ingest_bench

    return ingest_bench.run_growth(ctx)


def _feed(ctx: Context) -> list[Figure]:
    from bench import feed_bench

    return feed_bench.run(ctx)


def _rules(ctx: Context) -> list[Figure]:
    from bench import rules_bench

    return rules_bench.run(ctx)


def _big_feed(ctx: Context) -> list[Figure]:
    from bench import feed_bench

    return feed_bench.run_peak(ctx)


def _daemon(ctx: Context) -> list[Figure]:
    from bench import daemon_bench

    return daemon_bench.run(ctx)


def _poll(ctx: Context) -> list[Figure]:
    from bench import poll_bench

    return poll_bench.run(ctx)


def _serve(ctx: Context) -> list[Figure]:
    from bench import serve_bench

    return serve_bench.run(ctx)


def _search(ctx: Context) -> list[Figure]:
    from bench.search_bench import run_search

    return run_search(ctx)


def _topics(ctx: Context) -> list[Figure]:
    from bench.search_bench import run_topics

    return run_topics(ctx)


def _scale_out(ctx: Context) -> list[Figure]:
    from bench.scale_out_bench import run

    return run(ctx)


def _pages(ctx: Context) -> list[Figure]:
    from bench import pages_bench

    return [pages_bench.run_per_1000(ctx)]


def _pages_one_new(ctx: Context) -> list[Figure]:
    from bench import pages_bench

    return pages_bench.run_one_new(ctx)


def _pages_one_new_beside(ctx: Context) -> None:
    from bench import pages_bench

    pages_bench.prepare_one_new(ctx)


def _full_text(ctx: Context) -> list[Figure]:
    from bench import fulltext_bench

    return fulltext_bench.run(ctx.corpus)


def _status(ctx: Context) -> list[Figure]:
    from bench import status_bench

    return status_bench.run(ctx)


def _status_beside(ctx: Context) -> None:
    from bench import status_bench

    status_bench.prepare(ctx)


# Order matters: build_growth reads the big store before ingest_growth and the daemon add
# articles to it; status_page_ms comes right after the big store's fill (in build_growth),
# which its own fill runs beside (`BESIDE`), so that its page is drawn as soon after its
# fill as when it filled its store itself.
FAMILIES: dict[str, tuple[Family, tuple[str, ...]]] = {
    "normalize": (_normalize, ("normalize_vs_ftfy",)),
    "ingest": (_ingest, ("ingest_files_per_s", "ingest_vs_raw_insert")),
    "reingest": (_reingest, ("reingest_unchanged_vs_stat",)),
    "build": (
        _build,
        (
            "build_vs_feedgen",
            "render_vs_feedgen",
            "build_nochange_vs_full",
            "build_s_per_1000_items",
        ),
    ),
    "build_growth": (_build_growth, ("build_growth",)),
    "status_page_ms": (_status, ("status_page_ms",)),
    "ingest_growth": (_ingest_growth, ("ingest_growth",)),
    "feed": (_feed, ("feed_ingest_vs_feedparser",)),
    "rules_overhead": (_rules, ("rules_overhead",)),
    "big_feed": (_big_feed, ("big_feed_peak_mb",)),
    "search_ms_1m": (_search, ("search_ms_1m",)),
    "daemon": (_daemon, ("daemon_rss_mb",)),
    "topic_match_overhead": (_topics, ("topic_match_overhead",)),
    "poll_304_per_s": (_poll, ("poll_304_per_s",)),
    "serve_vs_nginx": (_serve, ("serve_vs_nginx",)),
    "scale_out_polls_per_s": (_scale_out, ("scale_out_polls_per_s",)),
    "pages": (_pages, ("pages_s_per_1000",)),
    "pages_one_new": (_pages_one_new, ("pages_one_new_vs_full", "one_new_published_s")),
    "full_text_vs_trafilatura": (_full_text, ("full_text_vs_trafilatura",)),
}
# Families whose set-up may run in a second process beside the big store's fill
# (`bench.beside`): each plans it at the start of the run.
BESIDE: dict[str, Callable[[Context], None]] = {
    "status_page_ms": _status_beside,
    "pages_one_new": _pages_one_new_beside,
}


def _chosen() -> list[str]:
    only = os.environ.get("BENCH_ONLY", "").strip()
    if not only:
        return list(FAMILIES)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown families {unknown}; known: {list(FAMILIES)}")
    return [n for n in FAMILIES if n in names]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _table(figures: list[Figure], title: str) -> Table:
    table = Table(title=title)
    for column in ("figure", "value", "unit", "ratio", "target", "ok", "baseline"):
        table.add_column(column, overflow="fold")
    for f in figures:
        if f.ok is None and "informational" in f.details:
            ok = "-"
        elif f.ok is None:
            ok = "[yellow]skipped[/]" if "skipped" in f.details else "[red]ERROR[/]"
        else:
            ok = "[green]yes[/]" if f.ok else "[bold red]MISSED[/]"
        table.add_row(f.name, _fmt(f.value), f.unit, _fmt(f.ratio), f.target, ok, f.baseline)
    return table


def _run_family(name: str, ctx: Context, console: Console, crashed: list[str]) -> list[Figure]:
    """The figures of one family; a family that fails gives figures saying why (and is
    added to `crashed`), so that one broken family does not hide the others' figures."""
    family, produces = FAMILIES[name]
    try:
        return family(ctx)
    except ImportError as exc:
        return [
            Figure(n, None, "-", "-", None, "-", None, {"skipped": f"import failed: {exc}"})
            for n in produces
        ]
    except Exception as exc:
        crashed.append(name)
        console.print(traceback.format_exc(), markup=False, highlight=False)
        return [Figure(n, None, "-", "-", None, "-", None, {"error": repr(exc)}) for n in produces]


def _merge_large(run: dict[str, object], figures: list[Figure]) -> None:
    """Merge this run's figures into `RESULTS_LARGE`, with the run that measured each."""
    try:
        held = json.loads(RESULTS_LARGE.read_text(encoding="utf-8"))
        kept = [f for f in held["figures"] if f["name"] not in {g.name for g in figures}]
    except (OSError, ValueError, KeyError, TypeError):
        kept = []
    fresh = [{**f.as_json(), "run": run} for f in figures]
    merged = sorted(kept + fresh, key=lambda f: str(f["name"]))
    RESULTS_LARGE.write_text(json.dumps({"figures": merged}, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    console = Console()
    sizes = LARGE if scale() == "large" else DEFAULT
    started = time.perf_counter()
    figures: list[Figure] = []
    crashed: list[str] = []
    # Seconds each family took, set-up included: where the suite's run time goes.
    family_s: dict[str, float] = {}
    # SIGTERM ends the run through the `finally` below, so the normalizer pool's workers
    # stop with it instead of staying behind as orphans.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="rassegna-bench-") as tmp:
        ctx = Context(Path(tmp), sizes)
        try:
            chosen = _chosen()
            for name in chosen:
                if name in BESIDE:
                    BESIDE[name](ctx)
            for name in chosen:
                console.print(f"[bold]{name}[/] ...", end=" ")
                t0 = time.perf_counter()
                figures.extend(_run_family(name, ctx, console, crashed))
                family_s[name] = round(time.perf_counter() - t0, 1)
                console.print(f"{family_s[name]:.1f}s")
        finally:
            ctx.pool.close()
    total = time.perf_counter() - started
    run = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": scale(),
        "runtime_s": round(total, 1),
        "family_s": family_s,
        **machine(),
    }
    if scale() == "large":
        _merge_large(run, figures)
    elif not os.environ.get("BENCH_ONLY"):
        RESULTS.write_text(
            json.dumps({"run": run, "figures": [f.as_json() for f in figures]}, indent=2) + "\n",
            encoding="utf-8",
        )
    title = (
        f"rassegna bench, {run['date']}, {run['machine']}, {run['cpus']} CPUs, "
        f"Python {run['python']}, scale {run['scale']}, {total:.0f}s"
    )
    console.print(_table(figures, title))
    missed = [f.name for f in figures if f.ok is False]
    if missed:
        console.print(f"[bold red]targets missed:[/] {', '.join(missed)}")
    if crashed:
        console.print(f"[bold red]crashed:[/] {', '.join(crashed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
