"""The store on a real SQLite file and on the real PostgreSQL: upserts, identity, queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from db.errors import StoreError
from db.migrate import current_revision, head_revision
from db.records import ArticleDraft, FileFingerprint, Section, SourceSpec
from db.store import Store
from tests import factories
from tests.old_rows import insert_old_source, old_article, old_database

T0 = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def draft(guid: str, **changes: Any) -> ArticleDraft:
    fields: dict[str, Any] = {
        "title": f"Perché la città {guid} è più cara",
        "body": "Testo",
        "summary": "Un riassunto con l'apostrofo",
        "published": T0,
        "category": "Cronaca",
        "tags": ("Comune", "bilancio"),
        "authors": ("Anna Rossi",),
    }
    fields.update(changes)
    return factories.draft(guid, **fields)


def source(store: Store, name: str = "Cronaca locale") -> int:
    return store.ensure_source(SourceSpec(name=name, kind="files", location="/tmp/x"))


def test_schema_is_at_head(any_store: Store) -> None:
    assert current_revision(any_store.engine) == head_revision()
    tables = set(inspect(any_store.engine).get_table_names())
    assert {"sources", "articles", "categories", "tags", "article_tags"} <= tables


def test_new_same_changed(any_store: Store) -> None:
    sid = source(any_store)
    first = any_store.upsert_articles(sid, [draft("a"), draft("b")])
    assert (first.new, first.changed, first.same) == (2, 0, 0)
    again = any_store.upsert_articles(sid, [draft("a"), draft("b")])
    assert (again.new, again.changed, again.same) == (0, 0, 2)
    before = {a.guid: a for a in any_store.latest_articles(10)}
    edited = any_store.upsert_articles(
        sid, [draft("a", title="Titolo corretto", published=T0 + timedelta(days=3))]
    )
    assert (edited.new, edited.changed) == (0, 1)
    after = {a.guid: a for a in any_store.latest_articles(10)}
    assert after["a"].title == "Titolo corretto"
    assert after["a"].uid == before["a"].uid, "an edit keeps the public id"
    assert after["a"].published == before["a"].published, "published stays"
    assert after["a"].updated > before["a"].updated, "updated moves"
    assert any_store.article_count() == 2


def test_source_updated_date_is_used_when_it_moves_forward(any_store: Store) -> None:
    sid = source(any_store)
    any_store.upsert_articles(sid, [draft("a", updated=T0)])
    later = T0 + timedelta(hours=5)
    any_store.upsert_articles(sid, [draft("a", updated=later, summary="Nuovo")])
    assert any_store.latest_articles(1)[0].updated == later


def test_uids_are_unique_and_dates_aware(any_store: Store) -> None:
    sid = source(any_store)
    any_store.upsert_articles(sid, [draft(str(i)) for i in range(20)])
    articles = any_store.latest_articles(100)
    assert len({a.uid for a in articles}) == 20
    assert all(a.uid.startswith("urn:uuid:") for a in articles)
    assert all(a.published.tzinfo is not None and a.published == T0 for a in articles)


def test_same_guid_in_two_sources_is_two_articles(any_store: Store) -> None:
    one, two = source(any_store, "Uno"), source(any_store, "Due")
    any_store.upsert_articles(one, [draft("x")])
    any_store.upsert_articles(two, [draft("x")])
    assert any_store.article_count() == 2


def test_latest_order_and_filters(any_store: Store) -> None:
    sid = source(any_store)
    other = source(any_store, "Sport e tempo libero")
    any_store.upsert_articles(
        sid,
        [
            draft("vecchio", published=T0 - timedelta(days=1)),
            draft("nuovo", published=T0 + timedelta(days=1), category="Attualità", tags=("Città",)),
            draft("pari-1"),
            draft("pari-2"),
        ],
    )
    any_store.upsert_articles(other, [draft("gol", category="Sport", tags=())])
    guids = [a.guid for a in any_store.latest_articles(10, Section("source", "cronaca-locale"))]
    assert guids[0] == "nuovo" and guids[-1] == "vecchio"
    # Same published time: the later id comes first, every time.
    assert guids[1:3] == ["pari-2", "pari-1"]
    assert [a.guid for a in any_store.latest_articles(10, Section("category", "attualita"))] == [
        "nuovo"
    ]
    assert [a.guid for a in any_store.latest_articles(10, Section("tag", "citta"))] == ["nuovo"]
    assert [a.guid for a in any_store.latest_articles(2)] == ["nuovo", "gol"]
    assert [c.slug for c in any_store.categories()] == ["attualita", "cronaca", "sport"]
    assert [s.slug for s in any_store.sources_with_articles()] == [
        "cronaca-locale",
        "sport-e-tempo-libero",
    ]
    assert [t.slug for t in any_store.tags(min_articles=3)] == ["bilancio", "comune"]
    nuovo = any_store.latest_articles(1)[0]
    assert nuovo.category is not None and nuovo.category.name == "Attualità"
    assert [t.name for t in nuovo.tags] == ["Città"]


def test_fingerprints_round_trip(any_store: Store) -> None:
    sid = source(any_store)
    prints = [FileFingerprint("a.txt", 1_700_000_000_123_456_789, 10, "h1")]
    any_store.save_fingerprints(sid, prints)
    any_store.save_fingerprints(
        sid, [FileFingerprint("a.txt", 1_800_000_000_000_000_000, 11, "h2")]
    )
    assert any_store.file_fingerprints(sid) == {
        "a.txt": FileFingerprint("a.txt", 1_800_000_000_000_000_000, 11, "h2")
    }


def test_record_fetch_and_states(any_store: Store) -> None:
    sid = source(any_store)
    any_store.upsert_articles(sid, [draft("a")])
    any_store.record_fetch(sid, error="2 files skipped")
    any_store.record_fetch(sid, error="2 files skipped")
    (state,) = any_store.source_states()
    assert state.article_count == 1
    assert state.consecutive_errors == 2 and state.last_error == "2 files skipped"
    any_store.record_fetch(sid, error=None)
    (state,) = any_store.source_states()
    assert state.consecutive_errors == 0 and state.last_error is None
    assert state.next_due is not None and state.last_success is not None
    # One interval, give or take the scheduling jitter (at most 10 %).
    assert timedelta(seconds=600) <= state.next_due - state.last_success <= timedelta(seconds=660)


def test_a_failed_batch_stores_nothing(any_store: Store) -> None:
    sid = source(any_store)
    any_store.upsert_articles(sid, [draft("a")])
    naive = datetime(2026, 1, 1)  # the store refuses naive datetimes
    with pytest.raises(Exception, match="naive"):
        any_store.upsert_articles(sid, [draft("b"), draft("c", published=naive)])
    assert [a.guid for a in any_store.latest_articles(10)] == ["a"]


def test_sqlite_pragmas(store: Store) -> None:
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 4096


def test_reopening_keeps_articles(sqlite_url: str) -> None:
    first = Store.open(sqlite_url)
    first.upsert_articles(source(first), [draft("a")])
    first.close()
    second = Store.open(sqlite_url)
    assert [a.guid for a in second.latest_articles(5)] == ["a"]
    second.close()


def test_unreachable_database_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    assert "127.0.0.1" in caught.value.message and "\n" not in caught.value.message
    with pytest.raises(StoreError, match="not a database URL"):
        Store.open("not a url")


def test_upgrade_from_0002_back_fills_tag_dates(bare_url: str) -> None:
    """A database left at revision 0002 with tagged articles upgrades to head, the tag
    rows get their article's date, and tag feeds read them in the right order."""
    engine, tables = old_database(bare_url, "0002")
    assert current_revision(engine) == "0002"
    assert "published" not in tables["article_tags"].c
    with engine.begin() as connection:
        source_id = insert_old_source(connection, tables["sources"], created_at=T0)
        connection.execute(
            tables["tags"].insert(),
            [
                {"id": 1, "name": "Città", "slug": "citta"},
                {"id": 2, "name": "Sport", "slug": "sport"},
            ],
        )
        connection.execute(
            tables["articles"].insert(),
            [
                # Ids and dates in different orders, so the order is the dates'.
                old_article(source_id, n, T0, published=T0 + timedelta(hours=(n * 7) % 5))
                for n in range(1, 6)
            ],
        )
        ids: dict[str, int] = dict(connection.execute(text("SELECT guid, id FROM articles")).all())
        tag_ids: dict[str, int] = dict(connection.execute(text("SELECT slug, id FROM tags")).all())
        connection.execute(
            tables["article_tags"].insert(),
            [{"article_id": ids[f"g{n}"], "tag_id": tag_ids["citta"]} for n in range(1, 6)]
            + [{"article_id": ids["g2"], "tag_id": tag_ids["sport"]}],
        )
    engine.dispose()

    store = Store.open(bare_url)
    try:
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as connection:
            mismatched = connection.execute(
                text(
                    "SELECT count(*) FROM article_tags JOIN articles"
                    " ON articles.id = article_tags.article_id"
                    " WHERE article_tags.published IS NULL"
                    " OR article_tags.published != articles.published"
                )
            ).scalar()
            assert mismatched == 0
            assert connection.execute(text("SELECT count(*) FROM article_tags")).scalar() == 6
        expected = sorted(range(1, 6), key=lambda n: ((n * 7) % 5, n), reverse=True)
        assert [a.guid for a in store.latest_articles(10, Section("tag", "citta"))] == [
            f"g{n}" for n in expected
        ]
        with store.stamp_reader() as reader:
            assert [s[0] for s in reader.latest(3, Section("tag", "citta"))] == [
                ids[f"g{n}"] for n in expected[:3]
            ]
        assert [a.guid for a in store.latest_articles(10, Section("tag", "sport"))] == ["g2"]
        # Articles stored after the upgrade carry their date into their tag rows too.
        later = draft("nuovo", published=T0 + timedelta(days=1), tags=("Città",))
        store.upsert_articles(source_id, [later])
        assert store.latest_articles(1, Section("tag", "citta"))[0].guid == "nuovo"
    finally:
        store.close()


def test_tag_rows_follow_edits(any_store: Store) -> None:
    """An edit that changes tags rewrites the article's tag rows (with its date)."""
    sid = source(any_store)
    any_store.upsert_articles(sid, [draft("a", tags=("Uno", "Due")), draft("b", tags=("Uno",))])
    any_store.upsert_articles(sid, [draft("a", tags=("Tre",), summary="Rivisto")])
    assert [a.guid for a in any_store.latest_articles(10, Section("tag", "uno"))] == ["b"]
    assert [a.guid for a in any_store.latest_articles(10, Section("tag", "due"))] == []
    (edited,) = any_store.latest_articles(10, Section("tag", "tre"))
    assert edited.guid == "a" and [t.slug for t in edited.tags] == ["tre"]
    with any_store.engine.connect() as connection:
        dates = connection.execute(text("SELECT published FROM article_tags")).scalars().all()
    assert len(dates) == 2


def test_repeated_guid_and_slug_in_one_batch(any_store: Store) -> None:
    """A guid twice in a batch is stored once, with its last version; two tag names with
    the same slug are one tag."""
    sid = source(any_store)
    summary = any_store.upsert_articles(
        sid,
        [
            draft("a", tags=("Città", "citta")),
            draft("a", title="Seconda versione", tags=("Città", "citta")),
            draft("a", title="Seconda versione", tags=("Città", "citta")),
        ],
    )
    assert (summary.new, summary.changed, summary.same) == (1, 1, 1)
    (article,) = any_store.latest_articles(10)
    assert article.title == "Seconda versione"
    assert [t.slug for t in article.tags] == ["citta"]
    assert summary.changed_sections == {Section("category", "cronaca")}


def test_find_duplicates_batched(any_store: Store) -> None:
    one, two = source(any_store, "Uno"), source(any_store, "Due")
    any_store.upsert_articles(
        one,
        [
            draft("x", url="https://esempio.it/x", title="Stessa storia"),
            draft("y", url=None, title="Titolo ripreso", published=T0),
        ],
    )
    window = timedelta(hours=36)
    found = any_store.find_duplicates(
        two,
        [
            ("https://esempio.it/x", "Altro titolo", T0),
            (None, "Titolo ripreso", T0 + timedelta(hours=30)),
            (None, "Titolo ripreso", T0 + timedelta(hours=40)),
            ("https://esempio.it/nuovo", "Mai visto", T0),
        ],
        window=window,
    )
    ids = {a.guid: a.id for a in any_store.latest_articles(10)}
    assert found == [ids["x"], ids["y"], None, None]
    # The source's own articles are never its duplicates.
    assert any_store.find_duplicates(one, [("https://esempio.it/x", "x", T0)], window=window) == [
        None
    ]
    assert (
        any_store.find_duplicate(two, url=None, title="Titolo ripreso", published=T0, window=window)
        == ids["y"]
    )


def test_fingerprints_bulk_upsert(any_store: Store) -> None:
    sid = source(any_store)
    any_store.save_fingerprints(sid, [FileFingerprint(f"{n}.txt", n, n, "h") for n in range(700)])
    any_store.save_fingerprints(
        sid,
        [
            FileFingerprint("1.txt", 10, 11, "h1"),
            FileFingerprint("1.txt", 20, 21, "h2"),
            FileFingerprint("nuovo.txt", 5, 6, "h3"),
        ],
    )
    prints = any_store.file_fingerprints(sid)
    assert len(prints) == 701
    assert prints["1.txt"] == FileFingerprint("1.txt", 20, 21, "h2")
    assert prints["699.txt"] == FileFingerprint("699.txt", 699, 699, "h")


def test_slugs_of_one_batch_over_several_sections(any_store: Store) -> None:
    # A slug taken in one category is free in another and in the uncategorised section,
    # whichever sections the batch mixes.
    sid = source(any_store)
    any_store.upsert_articles(
        sid,
        [
            draft("a", category="Economia", slug="bilancio"),
            draft("b", category="Sport", slug="derby"),
            draft("c", category=None, slug="derby"),
        ],
    )
    any_store.upsert_articles(
        sid,
        [
            draft("d", category="Economia", slug="derby"),
            draft("e", category="Sport", slug="bilancio"),
            draft("f", category="Economia", slug="bilancio"),
            draft("g", category=None, slug="bilancio"),
            draft("h", category=None, slug="derby"),
            draft("i", category="Sport", slug="derby"),
        ],
    )
    slugs = {a.guid: a.slug for a in any_store.latest_articles(20)}
    assert [slugs[g] for g in "defghi"] == [
        "derby",
        "bilancio",
        "bilancio-2",
        "bilancio",
        "derby-2",
        "derby-2",
    ]


def test_slugs_are_unique_per_section_and_kept_on_edit(any_store: Store) -> None:
    sid = source(any_store)
    same = {"title": "Il Comune approva il bilancio", "slug": "il-comune-approva-il-bilancio"}
    any_store.upsert_articles(sid, [draft("a", **same), draft("b", **same)])
    any_store.upsert_articles(sid, [draft("c", **same)])
    # The same slug in another category is free.
    any_store.upsert_articles(sid, [draft("d", category="Economia", **same)])
    slugs = {a.guid: a.slug for a in any_store.latest_articles(10)}
    base = "il-comune-approva-il-bilancio"
    assert (slugs["a"], slugs["b"], slugs["c"], slugs["d"]) == (
        base,
        f"{base}-2",
        f"{base}-3",
        base,
    )
    any_store.upsert_articles(sid, [draft("a", title="Titolo nuovo", slug="titolo-nuovo")])
    edited = {a.guid: a for a in any_store.latest_articles(10)}["a"]
    assert edited.title == "Titolo nuovo" and edited.slug == base
