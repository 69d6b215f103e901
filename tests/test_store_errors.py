"""No SQLAlchemy or driver exception leaves the store: they arrive as `DatabaseError`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from db.engine import make_engine
from db.errors import DatabaseError, StoreError
from db.records import SourceSpec
from db.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_a_read_of_an_unreachable_database_is_a_store_error() -> None:
    store = Store(make_engine("postgresql+psycopg://nobody:secret@127.0.0.1:1/nothing"))
    with pytest.raises(DatabaseError) as caught:
        store.source_states()
    message = caught.value.message
    assert message.startswith("database postgresql+psycopg://nobody:***@127.0.0.1:1/nothing: ")
    assert "\n" not in message and "secret" not in message
    with pytest.raises(StoreError), store.stamp_reader() as reader:
        reader.latest(5)


def test_a_refused_statement_is_a_store_error_naming_the_database(store: Store) -> None:
    source_id = store.ensure_source(SourceSpec("Fonte", "files", "/tmp/fonte"))
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE file_fingerprints")
    with pytest.raises(DatabaseError, match=r"^database sqlite:///.*file_fingerprints"):
        store.file_fingerprints(source_id)


def test_the_daemon_does_not_import_sqlalchemy() -> None:
    tree = ast.parse((ROOT / "rassegna" / "daemon.py").read_text(encoding="utf-8"))
    imported = [
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
        )
    ]
    assert imported and not [name for name in imported if name.startswith("sqlalchemy")]
