"""Keys a draft carries from the normalizer (content hash, visible hash, title key): the
store writes what it would compute itself, and a copy with other fields carries none."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select

from db.draft_keys import draft_keys, with_keys
from db.records import ArticleDraft, DraftKeys, SourceSpec
from db.store import Store
from db.tables import ARTICLES
from tests.factories import WHEN, draft

SPEC = SourceSpec(name="Cronache del borgo", kind="files", location="/borgo")


def _drafts() -> list[ArticleDraft]:
    return [
        draft(
            "piazza",
            "La piazza del mercato riapre - Gazzetta del borgo",
            "I banchi tornano sotto i portici. Il consiglio ha votato <a> ieri sera.",
            summary="Dopo tre mesi di lavori",
            url="https://borgo.example/piazza",
            authors=("Lucia Ferri",),
            category="Cronaca",
            tags=("mercato", "lavori"),
        ),
        draft(
            "ponte",
            "Il ponte sul torrente chiude per una settimana",
            "Si passa dalla strada della collina.",
            content_html='<p>Si passa dalla <a href="https://borgo.example/mappa">collina</a>.</p>',
        ),
    ]


def _stored_keys(store: Store) -> dict[str, tuple[str, str | None, str | None]]:
    a = ARTICLES.c
    query = select(a.guid, a.content_hash, a.visible_hash, a.title_key)
    with store.engine.connect() as connection:
        return {guid: (h, v, k) for guid, h, v, k in connection.execute(query)}


def test_carried_keys_are_stored_as_the_store_computes_them(any_store: Store) -> None:
    source_id = any_store.ensure_source(SPEC)
    any_store.upsert_articles(source_id, [with_keys(d) for d in _drafts()])
    carried = _stored_keys(any_store)
    expected = {d.guid: draft_keys(d) for d in _drafts()}
    assert carried == {
        guid: (k.content_hash, k.visible_hash, k.title_key) for guid, k in expected.items()
    }
    # Drafts without keys are the same as stored: a second ingest changes nothing.
    summary = any_store.upsert_articles(source_id, _drafts())
    assert (summary.new, summary.changed, summary.same) == (0, 0, 2)


def test_a_copy_with_other_fields_carries_no_keys(any_store: Store) -> None:
    first = with_keys(_drafts()[0])
    assert isinstance(first.keys, DraftKeys)
    moved = dataclasses.replace(first, published=WHEN + timedelta(hours=2))
    assert moved.keys is None
    source_id = any_store.ensure_source(SPEC)
    any_store.upsert_articles(source_id, [moved])
    assert _stored_keys(any_store)["piazza"][0] == draft_keys(moved).content_hash
    assert draft_keys(moved).content_hash != first.keys.content_hash
