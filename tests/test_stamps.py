"""Change stamps (`db.stamps`) on SQLite and PostgreSQL: read many feeds at once (ids from
each walk, then every article's stamp once), they are what one filtered read of each feed
gives, hidden articles and cross-source links included; and a build over them rewrites
exactly the feeds a change touches, nothing when nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import String, cast, select

from db.blocked import set_hidden
from db.errors import DatabaseError
from db.records import ArticleDraft, Section, SourceSpec, TopicDef
from db.stamps import Stamp
from db.store import Store
from db.tables import ARTICLES
from feeds.sections import plan_feeds
from tests import factories
from tests.factories import build, snapshot

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SITE = factories.site_info(
    "Rassegna di prova",
    description="Le notizie dei test",
    items_per_feed=3,
    index_articles=5,
    author_feeds=True,
    min_author_articles=1,
)
CATEGORIES = ("Cronaca", "Sport")
TAGS = ("Quartieri", "Mercati", "Scuola")


def _draft(n: int, title: str = "", **fields: object) -> ArticleDraft:
    values: dict[str, object] = {
        # Two articles share each date: the id breaks the tie.
        "published": T0 + timedelta(hours=n // 2),
        "category": CATEGORIES[n % 2],
        "tags": (TAGS[n % 3], TAGS[(n + 1) % 3]),
        "authors": ("Giulia Ferraris",) if n % 4 == 0 else ("Marco Bassi",),
        "url": f"https://esempio.it/{n}",
    }
    values.update(fields)
    title = title or f"Il mercato numero {n}"
    return factories.draft(f"g{n}", title, f"Notizia {n} sul mercato.", **values)


def _fill(store: Store) -> dict[str, int]:
    """Twelve articles of one source, three of another, one linked to both, a topic."""
    one = store.ensure_source(SourceSpec(name="Fonte Uno", kind="files", location="/tmp/uno"))
    two = store.ensure_source(SourceSpec(name="Fonte Due", kind="files", location="/tmp/due"))
    store.sync_topics([TopicDef(slug="mercati", name="Mercati", query="mercato")])
    store.upsert_articles(one, [_draft(n) for n in range(12)])
    store.upsert_articles(two, [_draft(n) for n in range(12, 15)])
    ids = {a.guid: a.id for a in store.latest_articles(100)}
    store.link_article(two, "copia-g3", ids["g3"], T0)
    return ids


SECTIONS: list[Section | None] = [
    None,
    *(Section("category", c) for c in ("cronaca", "sport", "nessuna")),
    *(Section("source", s) for s in ("fonte-uno", "fonte-due")),
    *(Section("tag", t) for t in ("quartieri", "mercati", "scuola")),
    Section("topic", "mercati"),
    *(Section("author", a) for a in ("giulia-ferraris", "marco-bassi")),
]
LIMITS = (1, 2, 3, 5, 50)


def _expected(store: Store, limit: int, section: Section | None) -> list[Stamp]:
    """What the stamps must be, from reads that do not go through `db.stamps`' statements:
    the ids `Store.latest_articles` returns, each with its content hash and link count
    and `updated` as the database writes it as text."""
    ids = [a.id for a in store.latest_articles(limit, section)]
    a = ARTICLES.c
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(a.id, a.content_hash, a.linked_sources, cast(a.updated, String)).where(
                a.id.in_(ids)
            )
        )
        versions = {i: (i, f"{h}+{n}", u) for i, h, n, u in rows}
    return [versions[i] for i in ids]


def _wanted() -> list[tuple[int, Section | None]]:
    return [(limit, section) for section in SECTIONS for limit in LIMITS]


def _check(store: Store) -> None:
    wanted = _wanted()
    with store.stamp_reader() as reader:
        together = reader.latest_of(wanted)
        alone = [reader.latest(limit, section) for limit, section in wanted]
    for (limit, section), stamps, single in zip(wanted, together, alone, strict=True):
        expected = _expected(store, limit, section)
        assert stamps == expected, (limit, section)
        assert single == expected, (limit, section)
        assert all(type(s[0]) is int and type(s[1]) is str for s in stamps)


def test_stamps_of_many_feeds_are_each_feeds_own_read(any_store: Store) -> None:
    ids = _fill(any_store)
    _check(any_store)
    with any_store.stamp_reader() as reader:
        [source_two] = reader.latest_of([(50, Section("source", "fonte-due"))])
    # The linked article is in the other source's feed, its stamp naming the link.
    assert ids["g3"] in [s[0] for s in source_two]
    assert next(s for s in source_two if s[0] == ids["g3"])[1].endswith("+1")


def test_hidden_articles_in_the_walks_are_skipped(any_store: Store) -> None:
    ids = _fill(any_store)
    # The newest article, one in the middle and the linked one: in most feeds' walks.
    assert set_hidden(any_store.engine, [ids["g14"], ids["g7"], ids["g3"]], True) == 3
    _check(any_store)
    with any_store.stamp_reader() as reader:
        [root] = reader.latest_of([(3, None)])
    assert [s[0] for s in root] == [ids["g13"], ids["g12"], ids["g11"]]
    set_hidden(any_store.engine, [ids["g14"], ids["g7"], ids["g3"]], False)
    _check(any_store)


def test_no_stamps_asked_or_found(any_store: Store) -> None:
    with any_store.stamp_reader() as reader:
        assert reader.latest_of([]) == []
        assert reader.latest_of([(3, None), (3, Section("tag", "nessuno"))]) == [[], []]


def test_a_refused_read_is_a_store_error_naming_the_database(any_store: Store) -> None:
    """The reads on the driver's cursor (stamps, listings) raise what any other read does."""
    _fill(any_store)
    with any_store.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE tags RENAME TO tags_gone")
    refused = pytest.raises(DatabaseError, match=r"^database .*tags")
    with refused, any_store.stamp_reader() as reader:
        reader.latest_of([(3, None), (3, Section("tag", "quartieri"))])
    with pytest.raises(DatabaseError, match=r"^database .*tags"):
        any_store.tags()
    assert [c.slug for c in any_store.categories()] == ["cronaca", "sport"]


def _showing(store: Store, article_id: int) -> set[str]:
    """The files a build must rewrite when this article changes: those of every feed
    whose items (`Store.latest_articles`, not the stamps) hold it, and the index page if
    it lists it."""
    files: set[str] = set()
    for spec in plan_feeds(store, SITE):
        if article_id in [a.id for a in store.latest_articles(SITE.limit(spec.kind), spec.section)]:
            files.update(spec.paths)
    if article_id in [a.id for a in store.latest_articles(SITE.index_articles)]:
        files.add("index.html")
    return files


def test_a_build_rewrites_exactly_the_feeds_a_change_touches(
    any_store: Store, tmp_path: Path
) -> None:
    ids = _fill(any_store)
    out = tmp_path / "out"
    build(any_store, out, SITE)
    before = snapshot(out)
    assert build(any_store, out, SITE).written == []
    assert snapshot(out) == before

    # An old article (in some feeds, not in the root feed nor on the index page), edited.
    sources = {s.name: s.id for s in any_store.source_states()}
    any_store.upsert_articles(sources["Fonte Uno"], [_draft(4, title="Il mercato, corretto")])
    expected = _showing(any_store, ids["g4"])
    assert "autore/giulia-ferraris/rss.xml" in expected
    assert "rss.xml" not in expected and "index.html" not in expected
    report = build(any_store, out, SITE)
    assert set(report.written) == expected
    assert build(any_store, out, SITE).written == []

    # The newest article linked from another source: every feed naming it changes (the
    # index page, which names no source, is rendered again to the same bytes).
    any_store.link_article(sources["Fonte Uno"], "copia-g14", ids["g14"], T0)
    report = build(any_store, out, SITE)
    expected = _showing(any_store, ids["g14"]) - {"index.html"}
    assert {"rss.xml", "fonte/fonte-uno/rss.xml", "tag/scuola/rss.xml"} <= expected
    assert set(report.written) == expected

    # Hidden: it leaves its feeds, whose next article comes in.
    set_hidden(any_store.engine, [ids["g14"]], True)
    report = build(any_store, out, SITE)
    assert "rss.xml" in report.written and "index.html" in report.written
    assert build(any_store, out, SITE).written == []
