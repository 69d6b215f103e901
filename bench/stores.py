"""Benchmark databases: an empty migrated template to copy, and big stores filled fast.

Big stores are filled with `sqlite3.executemany` straight into the project's schema (made
by its own Alembic migrations), not through the pipeline: 200,000 articles through the
pipeline would take longer than the whole suite may. The rows look like what the pipeline
stores (normalized text, HTML paragraphs, UTC datetimes as SQLAlchemy writes them for
SQLite, 1-4 tags, 20 categories, a few sources); the texts cycle through a pool of corpus
articles, each row with its own title, guid, uid, date and hash.

The search index (`articles_fts`) is filled too, with the text `db.search.index_articles`
writes (`index_text` of title, summary, body, authors, tags): the pool's texts are analysed
once, each row's title and tags per row. Titles open with a news headline drawn from
`HEADLINES` with Zipf weights (the most frequent in ~20 % of the articles, the rarest in
~0.5 %), so that searches meet the spread of frequencies a real archive has: the corpus's
own bodies are made of a few hundred phrases, each in a large share of the articles.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from bench.beside import Beside
from bench.corpus import CATEGORIES, TAGS, Corpus
from db.analysis import index_text
from db.labels import label_slug
from db.store import Store
from ingest import normalize

SOURCES = ("Il Corriere di Prova", "Gazzetta Sintetica", "Eco del Benchmark", "Notizie Finte")
POOL = 500
FILL_BATCH = 5000
# Fills this large (the big store's, ~30 s on one core) have set-ups run beside them.
BESIDE_MIN = 100_000
# SQLite's page cache while filling (KiB), see `filling`.
FILL_CACHE_KIB = 512 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NEWEST = datetime(2024, 5, 1, tzinfo=UTC)  # filled articles are older than ingested ones
HEADLINE_SEED = 20241129
HEADLINES = (
    "Maltempo, allerta arancione in tutta la regione",
    "Elezioni comunali, il centrosinistra presenta le liste",
    "Sciopero dei treni regionali, venerdì a rischio le corse",
    "Bilancio comunale approvato dopo una notte di discussione",
    "Ucraina, nuovo attacco con i droni su Kiev",
    "Sanità, le liste d'attesa si allungano negli ospedali",
    "Caro affitti, gli studenti protestano davanti al rettorato",
    "Il governo prepara la manovra: tagli e nuove tasse",
    "Corea del Nord, Pyongyang lancia un missile nel mar del Giappone",
    "Inflazione in calo, ma la spesa alimentare resta cara",
    "Incidente sull'autostrada, traffico bloccato per ore",
    "Putin e Xi firmano un patto di difesa reciproca",
    "Calcio, la squadra di casa vince il derby all'ultimo minuto",
    "Elezioni europee, i sondaggi premiano i partiti di governo",
    "Siccità, i campi senz'acqua e la vendemmia in anticipo",
    "Scuola, mancano ancora duemila insegnanti di sostegno",
    "Migranti, sbarchi in aumento a Lampedusa",
    "Il presidente della Repubblica in visita alla fiera",
    "Intelligenza artificiale, le imprese cercano tecnici",
    "Furti in centro, i commercianti chiedono più controlli",
    "Gaza, la tregua regge ma gli aiuti non arrivano",
    "La Banca centrale europea lascia invariati i tassi",
    "Festival del cinema, il film italiano vince il premio",
    "Terremoto di magnitudo quattro avvertito nell'entroterra",
    "Riforma della giustizia, lo scontro tra governo e magistrati",
    "Pensioni, cosa cambia dal primo gennaio",
    "Stati Uniti, il Congresso approva gli aiuti militari",
    "L'ospedale apre il nuovo reparto di pediatria",
    "Rifiuti, la raccolta differenziata supera il settanta per cento",
    "Turismo, un'estate da record per le città d'arte",
    "Vaccini antinfluenzali, al via la campagna d'autunno",
    "Energia, le bollette del gas tornano a salire",
    "Tennis, l'azzurro vola in finale a Torino",
    "Alluvione, i danni stimati superano il miliardo",
    "La Corte costituzionale boccia la legge regionale",
    "Nato, vertice dei ministri della difesa a Bruxelles",
    "Sciopero generale dei sindacati contro la manovra",
    "Ciclismo, il Giro d'Italia parte dalla Sicilia",
    "Cambiamento climatico, il ghiacciaio perde dieci metri",
    "Mafia, maxi operazione con trenta arresti",
)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class Templates:
    """One freshly migrated empty database, copied wherever an empty store is needed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._empty: Path | None = None
        self._count = 0

    def empty_db(self) -> Path:
        if self._empty is None:
            self._empty = self.folder / "template-empty.db"
            Store.open(sqlite_url(self._empty)).close()
            _checkpoint(self._empty)
        return self._empty

    def fresh_path(self, prefix: str) -> Path:
        self._count += 1
        return self.folder / f"{prefix}-{self._count}.db"

    def fresh_copy(self, prefix: str) -> Path:
        """A new empty, migrated database file (a copy of the template)."""
        path = self.fresh_path(prefix)
        shutil.copyfile(self.empty_db(), path)
        return path


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the main file, so that a plain file copy holds everything."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _dt(moment: datetime) -> str:
    # What SQLAlchemy's SQLite DateTime writes for what `db.types.UTCDateTime` binds (naive
    # UTC): microseconds always written, even when zero.
    return _naive_utc(moment).isoformat(" ", "microseconds")


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def sqlite_datetime(moment: datetime) -> str:
    """An aware datetime as the store keeps it in SQLite (naive UTC text), for
    `bulk_insert` rows."""
    return _dt(moment)


def sqlite_datetimes(newest: datetime, step: timedelta, count: int) -> Iterator[str]:
    """`count` moments as `sqlite_datetime` writes them, from `newest` going back `step`
    each time: one time zone conversion for the whole run instead of one per row."""
    base = _naive_utc(newest)
    for i in range(count):
        yield (base - step * i).isoformat(" ", "microseconds")


def epoch_microseconds(moment: datetime) -> int:
    """An aware datetime as whole microseconds since the Unix epoch, for `sql_datetime`."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def sql_datetime(microseconds: str) -> str:
    """SQL giving the text `sqlite_datetime` writes, for the moment `microseconds` (an SQL
    expression: microseconds since the Unix epoch), for rows SQLite makes itself."""
    return (
        f"strftime('%Y-%m-%d %H:%M:%S', ({microseconds}) / 1000000, 'unixepoch')"
        f" || printf('.%06d', ({microseconds}) % 1000000)"
    )


@contextmanager
def filling(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to fill the SQLite store at `path` in bulk, committed and flushed to
    disk on leaving: no flush while filling, and a page cache large enough that index
    pages stay in memory instead of being written out and read back for every row that
    lands on them.

    The store keeps its WAL while filling. Filling with no journal wrote half the blocks
    and took ~15 % less time, but `ingest_growth` (1,000 files into the filled 200,000)
    came out 1.39-1.77 (median 1.71, five runs) after such fills against 1.39 and 1.40
    after WAL fills of the same code, for no reason found (the pages are the same):
    `bench/README.md`, "The suite's run time on a slow host"."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute(f"PRAGMA cache_size=-{FILL_CACHE_KIB}")
        yield connection
        connection.commit()
    finally:
        connection.close()
    _flush(path)


def _flush(path: Path) -> None:
    """Wait until the fill's pages are on disk. Left to the kernel, the write-back of a
    big fill (1.8 GB for 200,000 articles) went on into the families measured after it,
    and the first commit there that syncs the store waited for all of it (an ingest into
    the big store took 4.6 s in its first round, 1.8-2.4 s in the next)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def bulk_insert(
    path: Path, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """Append `rows` (values in `columns` order, datetimes as `sqlite_datetime`, JSON
    columns as text) to `table` of the SQLite store at `path`, with `sqlite3.executemany`
    in one transaction and no flush to disk: for the set-up of big stores, where building
    a dict per row for SQLAlchemy's insert costs more than SQLite's own work."""
    marks = ", ".join("?" * len(columns))
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    with filling(path) as connection:
        remaining = iter(rows)
        while batch := list(islice(remaining, FILL_BATCH)):
            connection.executemany(statement, batch)


def _pool(corpus: Corpus) -> list[tuple[str, str, str, str]]:
    """(summary, content_html, content_text, authors json) of `POOL` normalized articles."""
    pool = []
    for article in corpus.articles(POOL):
        text = normalize.normalize_text(article.body)
        html_body = "".join(f"<p>{line}</p>" for line in text.split("\n"))
        authors = json.dumps(normalize.normalize_authors(", ".join(article.authors)))
        pool.append((normalize.normalize_summary(article.summary), html_body, text, authors))
    return pool


def fill_store(path: Path, count: int, corpus: Corpus) -> None:
    """Add `count` articles (and their sources, categories and tags) to the empty store at
    `path`, newest first from `NEWEST` going back 3 minutes each."""
    pool = _pool(corpus)
    with filling(path) as connection:
        connection.execute("PRAGMA foreign_keys=ON")
        created = _dt(NEWEST)
        connection.executemany(
            "INSERT INTO sources (id, name, slug, kind, location, category, interval_seconds,"
            " created_at, consecutive_errors, url_history, redirect_streak, gone)"
            " VALUES (?, ?, ?, 'files', ?, NULL, 600, ?, 0, '[]', 0, 0)",
            [
                (i + 1, name, label_slug(name), f"/srv/{label_slug(name)}", created)
                for i, name in enumerate(SOURCES)
            ],
        )
        connection.executemany(
            "INSERT INTO categories (id, name, slug) VALUES (?, ?, ?)",
            [(i + 1, name, label_slug(name)) for i, name in enumerate(CATEGORIES)],
        )
        connection.executemany(
            "INSERT INTO tags (id, name, slug) VALUES (?, ?, ?)",
            [(i + 1, name, label_slug(name)) for i, name in enumerate(TAGS)],
        )
        for articles, tags, fts in _batches(count, pool):
            connection.executemany(
                "INSERT INTO articles (id, uid, source_id, guid, url, title, summary,"
                " content_html, content_text, authors, category_id, published, updated,"
                " ingested, language, content_hash, slug, image_url)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'it', ?, ?, NULL)",
                articles,
            )
            connection.executemany(
                "INSERT INTO article_tags (article_id, tag_id, published) VALUES (?, ?, ?)", tags
            )
            connection.executemany(
                "INSERT INTO articles_fts (rowid, title, summary, body, authors, tags)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                fts,
            )
        connection.commit()
        connection.execute("ANALYZE")


def headlines(count: int) -> list[int]:
    """Which of `HEADLINES` each of `count` filled articles opens its title with."""
    weights = [1 / (k + 1) for k in range(len(HEADLINES))]
    return random.Random(HEADLINE_SEED).choices(range(len(HEADLINES)), weights, k=count)


def _batches(
    count: int, pool: list[tuple[str, str, str, str]]
) -> Iterator[
    tuple[list[tuple[object, ...]], list[tuple[int, int, str]], list[tuple[object, ...]]]
]:
    # The index text of what the rows share, analysed once (as `index_articles` would).
    pool_index = [
        (index_text(summary), index_text(text), index_text(" ".join(json.loads(authors))))
        for summary, _html, text, authors in pool
    ]
    tag_index = [index_text(name) for name in TAGS]
    head_index = [index_text(f"{h}: articolo d'archivio numero") for h in HEADLINES]
    heads = headlines(count)
    articles: list[tuple[object, ...]] = []
    tags: list[tuple[int, int, str]] = []
    fts: list[tuple[object, ...]] = []
    moments = sqlite_datetimes(NEWEST, timedelta(minutes=3), count)
    for i, published in enumerate(moments):
        article_id = i + 1
        summary, content_html, content_text, authors = pool[i % POOL]
        title = f"{HEADLINES[heads[i]]}: articolo d'archivio numero {i}"
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        articles.append(
            (
                article_id,
                f"urn:uuid:{uuid.UUID(int=i + 1)}",
                i % len(SOURCES) + 1,
                f"archivio/{i:08d}.txt",
                f"https://archivio.example.it/{i}",
                title,
                summary,
                content_html,
                content_text,
                authors,
                i % len(CATEGORIES) + 1,
                published,
                published,
                published,
                digest,
                f"articolo-d-archivio-numero-{i}",
            )
        )
        first = (i * 7) % len(TAGS)
        tag_ids = [(first + k * 11) % len(TAGS) for k in range(1 + i % 4)]
        for tag in tag_ids:
            tags.append((article_id, tag + 1, published))
        summary_index, body_index, authors_index = pool_index[i % POOL]
        fts.append(
            (
                article_id,
                f"{head_index[heads[i]]} {i}",
                summary_index,
                body_index,
                authors_index,
                " ".join(tag_index[t] for t in tag_ids),
            )
        )
        if len(articles) >= FILL_BATCH:
            yield articles, tags, fts
            articles, tags, fts = [], [], []
    if articles:
        yield articles, tags, fts


class StoreCache:
    """Filled stores by size, made once per run and shared by the figures that read them.
    The set-ups planned in `beside` run during the first fill of `BESIDE_MIN` articles or
    more (`bench.beside`)."""

    def __init__(self, templates: Templates, corpus: Corpus, beside: Beside) -> None:
        self.templates = templates
        self.corpus = corpus
        self.beside = beside
        self._made: dict[int, Path] = {}
        self.fill_seconds: dict[int, float] = {}

    def filled(self, count: int) -> Path:
        if count not in self._made:
            path = self.templates.fresh_copy(f"filled-{count}")
            with self.beside.running() if count >= BESIDE_MIN else nullcontext():
                start = time.perf_counter()
                fill_store(path, count, self.corpus)
                self.fill_seconds[count] = round(time.perf_counter() - start, 2)
            self._made[count] = path
        return self._made[count]
