"""Migrations stand alone: every way to the head gives one schema, and rows stored by an
old release come out of the upgrade with the data its revisions wrote, on SQLite and on
PostgreSQL. The back-fills of revisions 0004, 0007 and 0008 carry frozen copies of the
rules they apply, so the expected values here are literal, not computed by live code."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, inspect, select, text

from db.engine import make_engine
from db.migrate import head_revision, revisions, upgrade
from tests.conftest import pg_schema
from tests.old_rows import insert_old_source

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BEFORE_BACKFILLS = "0003"
"""The last revision before the back-fills with frozen rules (0004, 0007, 0008, 0010)."""
OLD_ARTICLES = [
    # title, authors, tags
    ("Perché l'Università di Città alta chiude - ANSA", ["Niccolò D’Amico"], ["Scuola"]),
    (
        "Il sindaco vota: l'affluenza alle elezioni comunali | Il Post",
        [" niccolò  d'amico", "Anna Maria Rossi"],
        [],
    ),
    ("Derby, la stracittadina di domenica", [], ["Sport", "Città"]),
]
TITLE_KEYS = [
    "alta chiude citta perche universita",
    "affluenza comunali elezioni sindaco vota",
    "derby domenica stracittadina",
]
AUTHORS = [("anna-maria-rossi", "Anna Maria Rossi"), ("niccolo-d-amico", "Niccolò D’Amico")]
FTS_TITLES = [
    "perc univers di citt alta chiud ansa",
    "il sindac vot affluenz alle elezion comunal il post",
    "derby la stracittadin di domen",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A maker of URLs of empty databases of one kind, each dropped afterwards."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            names = iter(range(1000))
            yield lambda: f"sqlite:///{tmp_path / f'db{next(names)}.sqlite'}"
        else:
            pg_url = request.getfixturevalue("pg_url")
            yield lambda: stack.enter_context(pg_schema(pg_url))


def schema(engine: Engine) -> dict[str, Any]:
    """Tables, columns, keys and indexes as the database reports them."""
    found = inspect(engine)
    described: dict[str, Any] = {}
    for table in sorted(found.get_table_names()):
        described[table] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
            found.get_pk_constraint(table)["constrained_columns"],
            sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in found.get_foreign_keys(table)
            ),
            sorted(
                (i["name"] or "", tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
                for i in found.get_indexes(table)
            ),
        )
    return described


def upgraded(url: str, *stops: str) -> Engine:
    engine = make_engine(url)
    for stop in stops:
        upgrade(engine, stop)
    return engine


def test_every_old_revision_upgrades_to_the_schema_of_a_new_database(
    fresh_url: Callable[[], str],
) -> None:
    every = revisions()
    assert every[-1] == head_revision()
    new = upgraded(fresh_url(), "head")
    expected = schema(new)
    new.dispose()
    assert {"sources", "articles", "authors", "article_authors", "topics"} <= set(expected)
    for old in every[:-1]:
        engine = upgraded(fresh_url(), old, "head")
        try:
            assert schema(engine) == expected, f"upgrading from {old}"
        finally:
            engine.dispose()


def _store_old_rows(engine: Engine) -> None:
    """Rows as revision 0003 stored them: a source, a category, tags and three articles."""
    tables = MetaData()
    tables.reflect(engine)
    t = tables.tables
    with engine.begin() as connection:
        source_id = insert_old_source(
            connection,
            t["sources"],
            name="Vecchia fonte",
            slug="vecchia-fonte",
            kind="files",
            location="/tmp/vecchia",
            created_at=START,
        )
        tag_ids: dict[str, int] = {}
        for n, (title, authors, tags) in enumerate(OLD_ARTICLES):
            published = START + timedelta(hours=n)
            article_id = connection.execute(
                t["articles"].insert().returning(t["articles"].c.id),
                {
                    "uid": f"urn:uuid:{uuid.UUID(int=n + 1)}",
                    "source_id": source_id,
                    "guid": f"g{n}",
                    "title": title,
                    "summary": "Un riassunto dell'articolo",
                    "content_html": "<p>Il testo</p>",
                    "content_text": "Il testo",
                    "authors": authors,
                    "published": published,
                    "updated": published,
                    "ingested": published,
                    "content_hash": f"h{n}",
                    "slug": f"articolo-{n}",
                },
            ).scalar_one()
            for tag in tags:
                if tag not in tag_ids:
                    tag_ids[tag] = connection.execute(
                        t["tags"].insert().returning(t["tags"].c.id),
                        {"name": tag, "slug": tag.lower()},
                    ).scalar_one()
                connection.execute(
                    t["article_tags"].insert(),
                    {"article_id": article_id, "tag_id": tag_ids[tag], "published": published},
                )


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the search index, in primary-key order."""
    tables = MetaData()
    tables.reflect(engine)
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for name, table in sorted(tables.tables.items()):
            if name.startswith("articles_fts") or name == "alembic_version":
                continue
            columns = [c for c in table.c if c.name != "search_vector"]
            order = list(table.primary_key.columns) or columns
            rows[name] = [tuple(r) for r in connection.execute(select(*columns).order_by(*order))]
    return rows


def test_old_rows_upgrade_to_the_same_data_one_revision_at_a_time_or_at_once(
    fresh_url: Callable[[], str],
) -> None:
    later = revisions()[revisions().index(BEFORE_BACKFILLS) + 1 :]
    at_once = upgraded(fresh_url(), BEFORE_BACKFILLS)
    stepwise = upgraded(fresh_url(), BEFORE_BACKFILLS)
    try:
        for engine in (at_once, stepwise):
            _store_old_rows(engine)
        upgrade(at_once, "head")
        for stop in later:
            upgrade(stepwise, stop)
        data = dump(at_once)
        assert data == dump(stepwise)
        with at_once.connect() as connection:
            keys = connection.execute(text("SELECT title_key FROM articles ORDER BY id"))
            assert list(keys.scalars()) == TITLE_KEYS
        assert sorted((slug, name) for _, name, slug in data["authors"]) == AUTHORS
        with at_once.connect() as connection:
            paths = connection.execute(text("SELECT page_path FROM articles ORDER BY id"))
            assert list(paths.scalars()) == [f"articoli/2026/03/articolo-{n}" for n in range(3)]
        assert len(data["article_authors"]) == 2 + 1  # a repeated spelling is one author
        with at_once.connect() as connection:
            origins = connection.execute(text("SELECT min_interval_origin FROM sources"))
            # 0016: what set a server's bound is unknown until the next poll that brings one.
            assert list(origins.scalars()) == [None]
        with at_once.connect() as connection:
            if at_once.dialect.name == "sqlite":
                indexed = connection.execute(
                    text("SELECT title FROM articles_fts ORDER BY rowid")
                ).scalars()
                assert list(indexed) == FTS_TITLES
            else:
                found = connection.execute(
                    text(
                        "SELECT title FROM articles WHERE search_vector @@"
                        " to_tsquery('rassegna_italian', 'stracittadine') ORDER BY id"
                    )
                ).scalars()
                assert list(found) == [OLD_ARTICLES[2][0]]
    finally:
        at_once.dispose()
        stepwise.dispose()
