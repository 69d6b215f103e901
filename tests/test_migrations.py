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
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, select, text

from db.engine import make_engine
from db.migrate import MIGRATIONS_DIR, head_revision, revisions, upgrade
from db.models import Base
from db.records import Section, SourceSpec, TopicDef
from db.store import Store
from tests.conftest import pg_schema
from tests.factories import search_draft
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


TOPIC_WALK_KEY = "0018"
"""The revision that keys `topic_articles` by the topic walk (rebuilt on SQLite)."""
TOPIC_SLUGS = ("comune", "corea")


def _store_topic_rows(store: Store) -> None:
    """Articles, some sharing a date (the walk breaks the tie by id), two topics back-filled
    and then matched at ingest (both ways of writing memberships), one membership dropped
    by an edit."""
    source = store.ensure_source(SourceSpec("Agenzia", "files", "/tmp/agenzia"))
    titles = ["Il consiglio comunale vota", "Pyongyang risponde", "Meteo di domani"]
    store.upsert_articles(
        source,
        [
            search_draft(f"a{n}", f"{titles[n % 3]} {n}", published=START + timedelta(hours=n // 2))
            for n in range(9)
        ],
    )
    store.sync_topics(
        [
            TopicDef("comune", "Comune", "consiglio comunale"),
            TopicDef("corea", "Corea del Nord", '"Corea del Nord" OR Pyongyang OR comunale'),
        ]
    )
    store.upsert_articles(
        source,
        [
            search_draft(f"b{n}", f"{titles[n % 3]} {n}", published=START + timedelta(hours=n // 3))
            for n in range(9)
        ],
    )
    store.upsert_articles(source, [search_draft("a0", "Il consiglio vota", published=START)])


def _topic_feeds(store: Store) -> dict[str, list[Any]]:
    """Every read of a topic feed: newest first, oldest first by offset and by key, and
    before a key; (id, guid, published) of each article."""
    feeds: dict[str, list[Any]] = {}
    for slug in TOPIC_SLUGS:
        section = Section("topic", slug)
        latest = store.latest_articles(100, section)
        middle = (latest[3].published, latest[3].id)
        reads = [
            latest,
            store.oldest_articles(4, section, offset=2),
            store.oldest_articles(4, section, after=middle),
            store.articles_before(4, middle, section),
        ]
        feeds[slug] = [[(a.id, a.guid, a.published) for a in read] for read in reads]
    return feeds


def _memberships(engine: Engine) -> list[tuple[Any, ...]]:
    """The rows of `topic_articles` as the driver reads them (SQLite: the stored text)."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT topic_slug, article_id, published FROM topic_articles ORDER BY 1, 2"
        )
        return [tuple(row) for row in rows]


def _downgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _sorted_rows(data: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(rows, key=repr) for table, rows in data.items()}


def test_topic_walk_key_keeps_every_membership_and_every_topic_feed(
    fresh_url: Callable[[], str],
) -> None:
    before = revisions()[revisions().index(TOPIC_WALK_KEY) - 1]
    engine = upgraded(fresh_url(), before)
    reference = upgraded(fresh_url(), before)
    try:
        store = Store(engine)
        _store_topic_rows(store)
        members = _memberships(engine)
        assert {slug for slug, *_ in members} == set(TOPIC_SLUGS)
        assert len(members) == 16, members  # 18 matched, then an edit left both topics
        feeds = _topic_feeds(store)
        data = _sorted_rows(dump(engine))

        upgrade(engine, TOPIC_WALK_KEY)
        assert _memberships(engine) == members
        assert _sorted_rows(dump(engine)) == data
        assert _topic_feeds(store) == feeds
        found = inspect(engine)
        assert found.get_pk_constraint("topic_articles")["constrained_columns"] == [
            "topic_slug",
            "published",
            "article_id",
        ]
        assert {ix["name"] for ix in found.get_indexes("topic_articles")} == {
            "ix_topic_articles_article"
        }

        _downgrade(engine, before)
        assert _memberships(engine) == members
        assert _topic_feeds(store) == feeds
        assert schema(engine) == schema(reference)
    finally:
        engine.dispose()
        reference.dispose()


def _search_only(difference: Any) -> bool:
    """What the models leave out on purpose: the search index, made by revision 0004 in
    SQL of each database's own (`db.search`)."""
    if not isinstance(difference, tuple):
        return False
    kind, *rest = difference
    if kind == "remove_table":
        return str(rest[0].name).startswith("articles_fts")
    if kind == "remove_column":
        return str(rest[2].name) == "search_vector"
    if kind == "remove_index":
        return str(rest[0].name) == "ix_articles_search_vector"
    return False


def test_the_models_describe_the_migrated_schema(fresh_url: Callable[[], str]) -> None:
    engine = upgraded(fresh_url(), "head")
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
            stored = (
                {
                    name: sql
                    for name, sql in connection.exec_driver_sql(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
                    )
                }
                if engine.dialect.name == "sqlite"
                else {}
            )
        assert [d for d in differences if not _search_only(d)] == []
        # What the comparison above does not look at: the order of a primary key's
        # columns (an index walk follows it) and SQLite's storage of the rows.
        found = inspect(engine)
        for table in Base.metadata.sorted_tables:
            key = [c.name for c in table.primary_key.columns]
            assert found.get_pk_constraint(table.name)["constrained_columns"] == key, table.name
            if stored:
                with_rowid = table.dialect_options["sqlite"]["with_rowid"]
                assert ("WITHOUT ROWID" not in stored[table.name]) == with_rowid, table.name
    finally:
        engine.dispose()
