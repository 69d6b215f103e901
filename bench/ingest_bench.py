"""Files ingest: `ingest_files_per_s`, `ingest_vs_raw_insert`, `reingest_unchanged_vs_stat`
and `ingest_growth`."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from bench import floor
from bench.context import Context
from bench.stores import remove_db, sqlite_url
from bench.timing import (
    Figure,
    at_least,
    at_most,
    interleaved,
    ratio_figure,
    stopwatch,
)
from db.records import SourceSpec
from db.store import Store
from ingest.article import to_draft
from ingest.files import FoundFile, read_article
from ingest.pipeline import ingest_files_source
from ingest.pool import DraftPool

TIMEZONE = "Europe/Rome"
# Tables the pipeline writes for a files ingest, in foreign-key order. The baseline writes
# the same rows, the full-text index's included: FTS5 maintenance is SQLite's work, not
# ours, and leaving it out would charge it to the pipeline.
_TABLES = (
    "sources",
    "categories",
    "tags",
    "authors",
    "articles",
    "article_tags",
    "article_authors",
    "file_fingerprints",
    "articles_fts",
)


def _select_all(table: str) -> str:
    # An FTS5 table's rowid is the article id and is not among its `*` columns.
    return f"SELECT rowid, * FROM {table}" if table.endswith("_fts") else f"SELECT * FROM {table}"


def _spec(name: str, folder: Path) -> SourceSpec:
    return SourceSpec(name=name, kind="files", location=str(folder), category="Cronaca")


def ingest_once(
    db: Path, folder: Path, name: str = "Archivio locale", pool: DraftPool | None = None
) -> float:
    """Seconds of one full pipeline ingest of `folder` into the store at `db` (the search
    bench times its ingests with it too)."""
    store = Store.open(sqlite_url(db), migrate=False)
    try:
        with stopwatch() as t:
            report = ingest_files_source(store, _spec(name, folder), timezone=TIMEZONE, pool=pool)
    finally:
        store.close()
    if report.problems or report.error:
        raise RuntimeError(f"bench ingest had problems: {report.problems[:3]} {report.error}")
    return t[0]


def _dump_rows(db: Path) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    """Every row the pipeline stored, table by table, with the column names."""
    connection = sqlite3.connect(db)
    try:
        dump = {}
        for table in _TABLES:
            cursor = connection.execute(_select_all(table))
            columns = [d[0] for d in cursor.description]
            dump[table] = (columns, cursor.fetchall())
        return dump
    finally:
        connection.close()


def _raw_insert(
    db: Path, files: list[Path], dump: dict[str, tuple[list[str], list[tuple[object, ...]]]]
) -> float:
    """Read every file, then `executemany` the rows the pipeline stored for them."""
    with stopwatch() as t:
        total = 0
        for path in files:
            total += len(path.read_bytes())
        connection = sqlite3.connect(db)
        try:
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            for table in _TABLES:
                columns, rows = dump[table]
                marks = ", ".join("?" for _ in columns)
                connection.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                    rows,
                )
            connection.commit()
        finally:
            connection.close()
    return t[0]


def _parse_normalize(root: Path, files: list[Path]) -> float:
    """The pipeline without the store: read, parse and normalize every file (the floor
    any store work is added to)."""
    with stopwatch() as t:
        for path in files:
            st = path.stat()
            found = FoundFile(path, path.relative_to(root).as_posix(), st.st_mtime_ns, st.st_size)
            to_draft(
                read_article(found, path.read_bytes()),
                timezone=TIMEZONE,
                default_category="Cronaca",
            )
    return t[0]


def _stat_walk(root: Path) -> int:
    """The baseline of an unchanged re-ingest: `os.scandir` + `stat` of every file."""
    count = 0
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    count += 1
    return count


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def run_new_files(ctx: Context) -> list[Figure]:
    """`ingest_vs_raw_insert` and, from the same rounds, `ingest_files_per_s`."""
    count = ctx.sizes.ingest_files
    folder = ctx.files_folder("new", count)
    files = _all_files(folder)
    # One ingest first: warms the page cache and imports, and gives the rows to insert.
    first = ctx.templates.fresh_copy("ingest-first")
    ingest_once(first, folder, pool=ctx.pool)  # also starts the pool's workers
    dump = _dump_rows(first)
    remove_db(first)

    def measure(run: Callable[[Path], float]) -> Callable[[], float]:
        def once() -> float:
            db = ctx.templates.fresh_copy("ingest")
            try:
                return run(db)
            finally:
                remove_db(db)

        return once

    floors: list[floor.Parts] = []

    def floor_once() -> float:
        with stopwatch():  # for its GC setting; the parts are timed inside
            floors.append(floor.files_floor(folder, files))
        return sum(floors[-1].values())

    rounds = interleaved(
        [
            measure(lambda db: ingest_once(db, folder, pool=ctx.pool)),
            measure(lambda db: _raw_insert(db, files, dump)),
            lambda: _parse_normalize(folder, files),
            floor_once,
        ],
        ctx.sizes.ingest_rounds,
    )
    ratio_fig = ratio_figure(
        "ingest_vs_raw_insert",
        rounds,
        baseline=(
            "read the same files + sqlite3 executemany of the rows the pipeline stored "
            "(sources, categories, tags, authors, articles, article_tags, article_authors, "
            "file_fingerprints, and the FTS5 index articles_fts)"
        ),
        target=at_most(6.0),
        details={
            "files": count,
            "rows": {t: len(dump[t][1]) for t in _TABLES},
            "parse_normalize_only_s": round(rounds.median(2), 4),
            "parse_normalize_only_vs_raw_insert": round(rounds.median(2) / rounds.median(1), 2),
            "store_share_of_ingest": round(1 - rounds.median(2) / rounds.median(0), 3),
            "floor": floor.summary(floors, rounds.median(1), 6.0, plus_baseline=True),
        },
    )
    per_s = count / rounds.median(0)
    text, check = at_least(1600)
    rate_fig = Figure(
        name="ingest_files_per_s",
        value=round(per_s, 1),
        unit="articles/s",
        baseline="absolute (same rounds as ingest_vs_raw_insert)",
        ratio=None,
        target=text,
        ok=check(per_s),
        details={
            "files": count,
            "median_s": round(rounds.median(0), 4),
            "md_share": "1 in 3 files is Markdown with YAML front matter, the rest .txt",
        },
    )
    return [rate_fig, ratio_fig]


def run_reingest(ctx: Context) -> list[Figure]:
    """`reingest_unchanged_vs_stat`: a second ingest of 10,000 files none of which changed."""
    count = ctx.sizes.reingest_files
    folder = ctx.files_folder("reingest", count)
    db = ctx.templates.fresh_copy("reingest")
    # Set-up: the first ingest stores every file. The normalizer pool (started by the
    # `ingest` family, else here) spreads it over both cores and stores the same rows;
    # the timed re-ingests normalize nothing and run without it, as before.
    with stopwatch() as t:
        ingest_once(db, folder, pool=ctx.pool)
    first_ingest_s = t[0]

    rounds = interleaved(
        [lambda: ingest_once(db, folder), lambda: _timed_walk(folder, count)],
        ctx.sizes.reingest_rounds,
    )
    remove_db(db)
    return [
        ratio_figure(
            "reingest_unchanged_vs_stat",
            rounds,
            baseline="os.scandir + stat walk of the same folder",
            target=at_most(5.0),
            details={
                "files": count,
                "first_ingest_s": round(first_ingest_s, 2),
                "first_ingest_per_s": round(count / first_ingest_s, 1),
            },
        )
    ]


def _timed_walk(folder: Path, expected: int) -> float:
    with stopwatch() as t:
        found = _stat_walk(folder)
    if found != expected:
        raise RuntimeError(f"stat walk found {found} files, expected {expected}")
    return t[0]


def run_growth(ctx: Context) -> list[Figure]:
    """`ingest_growth`: 1,000 new articles into a big store / into an empty store."""
    count = ctx.sizes.growth_ingest_files
    folder = ctx.files_folder("growth", count)
    big = ctx.stores.filled(ctx.sizes.big_store)
    rounds_done = [0]

    def into_big() -> float:
        # A new source each round, so that all of its articles are new to the store.
        rounds_done[0] += 1
        return ingest_once(big, folder, name=f"Nuova fonte {rounds_done[0]}")

    def into_empty() -> float:
        db = ctx.templates.fresh_copy("growth-empty")
        try:
            return ingest_once(db, folder)
        finally:
            remove_db(db)

    into_empty()  # warm-up (page cache, imports)
    rounds = interleaved([into_big, into_empty], ctx.sizes.growth_rounds)
    return [
        ratio_figure(
            "ingest_growth",
            rounds,
            baseline=f"the same {count} files into an empty store",
            target=at_most(1.5),
            details={"files": count, "store_articles": ctx.sizes.big_store},
        )
    ]
