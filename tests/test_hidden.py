"""Hidden articles (`rassegna rules apply`): every read the feeds, pages, listings and
search make skips them, on SQLite and PostgreSQL, and showing them again restores all;
written archive pages and the `/cerca` cache lose them too."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser

from db.blocked import hidden_ids, set_hidden
from db.records import ArticleDraft, Section, SourceSpec, StoredArticle, TopicDef
from db.store import Store
from feeds.archive import drop_pages, stale_pages
from feeds.build import build_feeds
from feeds.site import SiteInfo
from rassegna.search import SearchFeed
from tests import factories

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _draft(n: int, title: str) -> ArticleDraft:
    return factories.draft(
        f"g{n}",
        title,
        f"{title}, il racconto della giornata.",
        published=T0 + timedelta(hours=n),
        url=f"https://esempio.it/{n}",
        authors=("Giulia Ferraris",),
        category="Cronaca",
        tags=("Quartieri",),
        language="it",
    )


def _page_count(store: Store) -> int:
    with store.page_reader() as reader:
        return sum(1 for _ in reader.stamps(own_only=False))


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
        "pages": _page_count(store),
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


# -- archives and the /cerca cache -------------------------------------------------------

ARCHIVED = SiteInfo(
    title="Rassegna d'archivio",
    link="https://rassegna.example.it/",
    base_url="http://127.0.0.1:8080/",
    items_per_feed=3,
    archive_page_size=3,
)


def _archives(out: Path) -> dict[str, list[str]]:
    """Every archive page's item ids, by the page's folder."""
    return {
        str(path.parent.relative_to(out)): [
            item["id"] for item in json.loads(path.read_text("utf-8"))["items"]
        ]
        for path in sorted(out.rglob("archivio/*/feed.json"))
    }


def _stored_with_archives(store: Store, out: Path) -> list[StoredArticle]:
    source = store.ensure_source(
        SourceSpec(name="Fonte", kind="files", location="/tmp/fonte", interval_seconds=60)
    )
    store.upsert_articles(
        source, [_draft(n, f"Il mercato numero {n} riapre") for n in range(1, 13)]
    )
    build_feeds(store, ARCHIVED, out, fsync=False)
    return sorted(store.latest_articles(20), key=lambda a: a.published)


def test_archive_pages_lose_a_hidden_article_and_get_it_back(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "public"
    articles = _stored_with_archives(store, out)
    before = _archives(out)
    assert before["archivio/2"] == [a.uid for a in reversed(articles[3:6])]
    untouched = (out / "archivio/1/rss.xml").stat().st_mtime_ns
    fifth = articles[4]

    assert set_hidden(store.engine, [fifth.id], True) == 1
    stale = stale_pages(out, uids={fifth.uid})
    # In every feed the page holding it and every later one: the items after it moved.
    assert {str(p.relative_to(out)) for p in stale} >= {"archivio/2", "archivio/3", "archivio/4"}
    assert "archivio/1" not in {str(p.relative_to(out)) for p in stale}
    assert drop_pages(stale) == len(stale)
    build_feeds(store, ARCHIVED, out, fsync=False)
    after = _archives(out)
    assert not [page for page, ids in after.items() if fifth.uid in ids]
    fresh = tmp_path / "fresh"
    build_feeds(store, ARCHIVED, fresh, fsync=False)
    assert after == _archives(fresh)  # as if the article had never been there
    assert (out / "archivio/1/rss.xml").stat().st_mtime_ns == untouched
    assert "archivio/4" not in after  # 11 visible articles fill 3 pages of 3

    assert set_hidden(store.engine, [fifth.id], False) == 1
    assert drop_pages(stale_pages(out, since=fifth.published)) > 0
    build_feeds(store, ARCHIVED, out, fsync=False)
    assert _archives(out) == before


def test_search_feed_cache_follows_hiding_and_showing(store: Store) -> None:
    source = store.ensure_source(
        SourceSpec(name="Fonte", kind="files", location="/tmp/fonte", interval_seconds=60)
    )
    store.upsert_articles(
        source, [_draft(1, "Il mercato coperto riapre"), _draft(2, "Il mercato rionale chiude")]
    )
    search = SearchFeed(store, ARCHIVED)

    def titles() -> list[str]:
        parsed = feedparser.parse(search("mercato"))
        return sorted(entry.title for entry in parsed.entries)

    assert titles() == ["Il mercato coperto riapre", "Il mercato rionale chiude"]
    [newest] = store.latest_articles(1)
    set_hidden(store.engine, [newest.id], True)
    assert titles() == ["Il mercato coperto riapre"]
    set_hidden(store.engine, [newest.id], False)  # no article arrived: the cache must see it
    assert titles() == ["Il mercato coperto riapre", "Il mercato rionale chiude"]


def test_search_feed_cache_follows_articles_that_go(store: Store) -> None:
    """Pruning, deleting a source's entries and removing a source take articles out of the
    results without a new one arriving: a cached answer must not keep listing them."""
    kept = store.ensure_source(
        SourceSpec(name="Resta", kind="files", location="/tmp/resta", interval_seconds=60)
    )
    gone = store.ensure_source(
        SourceSpec(name="Sparisce", kind="files", location="/tmp/sparisce", interval_seconds=60)
    )
    store.upsert_articles(
        kept, [_draft(1, "Il mercato coperto riapre"), _draft(2, "Il mercato rionale chiude")]
    )
    store.upsert_articles(gone, [_draft(3, "Il mercato del sabato si sposta")])
    search = SearchFeed(store, ARCHIVED)

    def titles() -> list[str]:
        return sorted(entry.title for entry in feedparser.parse(search("mercato")).entries)

    assert len(titles()) == 3
    assert store.prune(older_than=T0 + timedelta(hours=1, minutes=30)) == 1
    assert titles() == ["Il mercato del sabato si sposta", "Il mercato rionale chiude"]
    assert store.delete_source_articles(kept, ["g2"]) == 1
    assert titles() == ["Il mercato del sabato si sposta"]
    assert store.remove_source("Sparisce", with_articles=True) == 1
    assert titles() == []
