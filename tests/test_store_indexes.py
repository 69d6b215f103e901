"""The look-ups that run on every ingest are index probes, not scans of the articles table."""

from __future__ import annotations

from sqlalchemy import inspect, text

from db.store import Store


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
