"""The look-ups that run on every ingest are index probes, not scans of the articles table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, inspect, text

from db.records import Section, SourceSpec, TopicDef
from db.store import Store
from tests.factories import draft


def test_duplicate_lookup_by_url_uses_an_index_on_sqlite(store: Store) -> None:
    with store.engine.connect() as connection:
        plan = connection.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT id, url FROM articles "
                "WHERE source_id != :s AND url IN ('https://a.example/1', 'https://a.example/2')"
            ),
            {"s": 1},
        ).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_articles_url" in details, details
    assert "SCAN articles" not in details, details


def test_url_index_exists_on_both_databases(any_store: Store) -> None:
    indexes = {ix["name"]: ix for ix in inspect(any_store.engine).get_indexes("articles")}
    assert "ix_articles_url" in indexes
    assert indexes["ix_articles_url"]["column_names"] == ["url"]


def _topic_plans(store: Store, action: Callable[[], object]) -> dict[str, str]:
    """The SQLite plan of each SELECT and DELETE on `topic_articles` that `action` runs
    through SQLAlchemy, by statement: the statements themselves, not copies."""
    seen: list[tuple[str, Any]] = []

    def note(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if "topic_articles" in statement and not many and not statement.startswith("INSERT"):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        event.remove(store.engine, "before_cursor_execute", note)
    plans: dict[str, str] = {}
    with store.engine.connect() as connection:
        for statement, parameters in seen:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plans[statement] = " | ".join(str(row[-1]) for row in plan)
    return plans


def test_topic_feeds_and_memberships_use_the_topic_key_or_the_article_index(
    store: Store,
) -> None:
    source = store.ensure_source(SourceSpec("Agenzia", "files", "/tmp/agenzia"))
    section = Section("topic", "comune")
    store.upsert_articles(
        source, [draft(f"a{n}", f"Il consiglio comunale vota {n}") for n in range(12)]
    )

    def work() -> None:
        store.sync_topics([TopicDef("comune", "Comune", "consiglio comunale")])
        latest = store.latest_articles(5, section)
        key = (latest[2].published, latest[2].id)
        store.oldest_articles(5, section, after=key)
        store.articles_before(5, key, section)
        store.oldest_articles(5, section, offset=3)
        # An edit that takes an article out of the topic: its membership is deleted by
        # (topic_slug, article_id).
        store.upsert_articles(source, [draft("a1", "Il consiglio vota")])

    plans = _topic_plans(store, work)
    # Same date: newest first is highest id first.
    expected = [f"a{n}" for n in reversed(range(12)) if n != 1]
    assert [a.guid for a in store.latest_articles(20, section)] == expected
    for statement, plan in plans.items():
        # Every read and delete is a search of the key or of the article index, never a
        # scan of the memberships nor a sort of them.
        assert "SEARCH topic_articles USING" in plan, (statement, plan)
        assert "SCAN topic_articles" not in plan and "TEMP B-TREE" not in plan, (statement, plan)
    walks = [p for s, p in plans.items() if s.startswith("SELECT") and "ORDER BY" in s]
    assert len(walks) == 4, plans
    assert all("USING PRIMARY KEY (topic_slug=?" in plan for plan in walks), walks
    deletes = {s: p for s, p in plans.items() if s.startswith("DELETE")}
    by_pair = [p for s, p in deletes.items() if "article_id" in s]
    by_topic = [p for s, p in deletes.items() if "article_id" not in s]
    assert by_pair and all(
        "INDEX ix_topic_articles_article (article_id=? AND topic_slug=?)" in p for p in by_pair
    ), deletes
    assert by_topic and all("PRIMARY KEY (topic_slug=?)" in p for p in by_topic), deletes


def test_topic_memberships_are_keyed_by_the_topic_walk_on_both_databases(
    any_store: Store,
) -> None:
    found = inspect(any_store.engine)
    key = found.get_pk_constraint("topic_articles")["constrained_columns"]
    assert key == ["topic_slug", "published", "article_id"]
    indexes = {ix["name"]: ix["column_names"] for ix in found.get_indexes("topic_articles")}
    assert indexes == {"ix_topic_articles_article": ["article_id"]}
