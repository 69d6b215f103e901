"""Hidden articles (`rassegna rules apply`): every read the feeds, pages, listings and
search make skips them, on SQLite and PostgreSQL, and showing them again restores all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.blocked import hidden_ids, set_hidden
from db.records import ArticleDraft, Section, SourceSpec, TopicDef
from db.store import Store

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _draft(n: int, title: str) -> ArticleDraft:
    return ArticleDraft(
        guid=f"g{n}",
        title=title,
        summary="",
        content_html=f"<p>{title}, il racconto della giornata.</p>",
        content_text=f"{title}, il racconto della giornata.",
        published=T0 + timedelta(hours=n),
        url=f"https://esempio.it/{n}",
        authors=("Giulia Ferraris",),
        category="Cronaca",
        tags=("Quartieri",),
        language="it",
    )


def _everything(store: Store) -> dict[str, object]:
    """What each kind of read returns, by titles or slugs."""
    with store.stamp_reader() as reader:
        stamps = len(reader.latest(10, Section("tag", "quartieri")))
    return {
        "root": [a.title for a in store.latest_articles(10)],
        "category": [a.title for a in store.latest_articles(10, Section("category", "cronaca"))],
        "source": [a.title for a in store.latest_articles(10, Section("source", "fonte"))],
        "tag": [a.title for a in store.latest_articles(10, Section("tag", "quartieri"))],
        "author": [
            a.title for a in store.latest_articles(10, Section("author", "giulia-ferraris"))
        ],
        "topic": [a.title for a in store.latest_articles(10, Section("topic", "mercati"))],
        "oldest_tag": [a.title for a in store.oldest_articles(10, Section("tag", "quartieri"))],
        "oldest_topic": [a.title for a in store.oldest_articles(10, Section("topic", "mercati"))],
        "counts": {
            k: v for k, v in store.section_counts().items() if k is None or k.kind != "source"
        },
        "categories": [c.slug for c in store.categories()],
        "tags": [t.slug for t in store.tags(min_articles=2)],
        "authors": [a.slug for a in store.authors(min_articles=2)],
        "search": [h.title for h in store.search("mercato")],
        "stamps": stamps,
        "pages": len(store.page_stamps()[0]),
    }


def test_hidden_articles_leave_every_read_and_come_back(any_store: Store) -> None:
    source = any_store.ensure_source(
        SourceSpec(name="Fonte", kind="files", location="/tmp/fonte", interval_seconds=60)
    )
    any_store.sync_topics([TopicDef(slug="mercati", name="Mercati", query="mercato")])
    any_store.upsert_articles(
        source,
        [_draft(1, "Il mercato coperto riapre"), _draft(2, "Il mercato rionale chiude")],
    )
    before = _everything(any_store)
    assert before["root"] == ["Il mercato rionale chiude", "Il mercato coperto riapre"]
    assert before["topic"] == before["root"]
    assert before["tags"] == ["quartieri"] and before["authors"] == ["giulia-ferraris"]

    [hidden] = [a.id for a in any_store.latest_articles(1)]
    assert set_hidden(any_store.engine, [hidden], True) == 1
    assert set_hidden(any_store.engine, [hidden], True) == 0  # already hidden
    after = _everything(any_store)
    one = ["Il mercato coperto riapre"]
    for key in ("root", "category", "source", "tag", "author", "topic", "search"):
        assert after[key] == one, key
    assert after["oldest_tag"] == one and after["oldest_topic"] == one
    counts = before["counts"]
    assert isinstance(counts, dict)
    assert after["counts"] == dict.fromkeys(counts, 1)
    assert after["categories"] == ["cronaca"]
    assert after["tags"] == [] and after["authors"] == []  # fewer than two articles now
    assert after["stamps"] == 1 and after["pages"] == 1

    assert hidden_ids(any_store.engine) == [hidden]
    assert set_hidden(any_store.engine, hidden_ids(any_store.engine), False) == 1
    assert _everything(any_store) == before
