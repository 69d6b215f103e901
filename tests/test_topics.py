"""Topic feeds: membership at ingest time, published like a section, rewritten only when a
matching article arrives; and `/cerca`, an Atom feed of a search over real HTTP."""

from __future__ import annotations

import os
from pathlib import Path

import feedparser
import httpx
import pytest
from lxml import etree

from db.errors import DatabaseError
from db.records import Section, SourceSpec, TopicDef
from db.store import Store
from rassegna.config import load_settings
from rassegna.operations import Ingest, build, search_feed
from rassegna.server import app_for
from tests.conftest import serving, write_site_config
from tests.factories import search_draft as draft
from tests.factories import seed_draft

TOPICS = """
[[sources]]
name = "Articoli"
kind = "files"
path = "articoli"

[[topics]]
name = "Corea del Nord"
query = '"Corea del Nord" OR Pyongyang'
description = "Tutto sulla Corea del Nord"

[[topics]]
name = "Comune"
query = "consiglio comunale"
exclude = ["sport"]
"""


def test_membership_follows_new_changed_and_edited_topics(any_store: Store) -> None:
    source = any_store.ensure_source(SourceSpec("Agenzia", "files", "/tmp/agenzia"))
    any_store.upsert_articles(source, [draft("vecchio", "Il consiglio comunale vota")])
    topic = TopicDef("comune", "Comune", "consiglio comunale", exclude=("sport",))
    assert any_store.sync_topics([topic]) == ["comune"]  # back-filled once
    assert [a.guid for a in any_store.latest_articles(10, Section("topic", "comune"))] == [
        "vecchio"
    ]
    assert any_store.sync_topics([topic]) == []  # unchanged: nothing to do
    summary = any_store.upsert_articles(
        source,
        [draft("nuovo", "Il consiglio comunale approva"), draft("altro", "Meteo di domani")],
    )
    assert (
        summary.changed_topics == {"comune"}
        and Section("topic", "comune") in summary.changed_sections
    )
    assert {a.guid for a in any_store.latest_articles(10, Section("topic", "comune"))} == {
        "vecchio",
        "nuovo",
    }
    # An edit that brings in an excluded word takes the article out.
    summary = any_store.upsert_articles(
        source, [draft("nuovo", "Il consiglio comunale approva", "Parla di sport.")]
    )
    assert summary.changed_topics == {"comune"}
    assert [a.guid for a in any_store.latest_articles(10, Section("topic", "comune"))] == [
        "vecchio"
    ]
    assert any_store.upsert_articles(source, [draft("meteo", "Pioggia")]).changed_topics == set()
    edited = TopicDef("comune", "Comune", "pioggia OR meteo")
    assert any_store.sync_topics([edited]) == ["comune"]
    assert {a.guid for a in any_store.latest_articles(10, Section("topic", "comune"))} == {
        "altro",
        "meteo",
    }
    assert any_store.sync_topics([]) == []
    assert any_store.topics() == []


def test_a_topic_feed_is_published_and_rewritten_only_for_a_match(
    tmp_path: Path, shared: Path
) -> None:
    folder = tmp_path / "articoli"
    folder.mkdir()
    (folder / "meteo.txt").write_text("Pioggia a Roma\nDomani piove.\n\nOmbrelli.\n", "utf-8")
    config = write_site_config(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", TOPICS)
    settings = load_settings(config, environ={})
    store = Store.open(settings.database_url)
    try:
        source = settings.sources[0]
        out = settings.output.dir
        Ingest(settings, store).source(source)
        build(settings, store)
        atom = out / "tema" / "corea-del-nord" / "atom.xml"
        assert atom.exists() and (out / "tema" / "comune" / "feed.json").exists()
        assert feedparser.parse(atom.read_bytes()).entries == []
        assert "tema/corea-del-nord/rss.xml" in (out / "opml.xml").read_text("utf-8")
        assert "tema/comune/atom.xml" in (out / "index.html").read_text("utf-8")

        # A matching article arrives: the topic feed gets it.
        lines = (shared / "samples" / "seed-article.txt").read_bytes()
        (folder / "seed.txt").write_bytes(lines)
        report = Ingest(settings, store).source(source)
        assert report.new == 1
        build(settings, store)
        parsed = feedparser.parse(atom.read_bytes())
        assert [e.title for e in parsed.entries] == [seed_draft(shared).title]
        stamp = {p: p.stat().st_mtime_ns for p in (out / "tema").rglob("*") if p.is_file()}

        # Something that matches no topic: the root feed changes, no topic file is touched.
        (folder / "altro.txt").write_text("Vento a Milano\nRaffiche.\n\nAlberi caduti.\n", "utf-8")
        os.utime(folder / "altro.txt")
        assert Ingest(settings, store).source(source).new == 1
        written = build(settings, store).written
        assert "atom.xml" in written
        assert not [p for p in written if p.startswith("tema/")]
        assert stamp == {p: p.stat().st_mtime_ns for p in stamp}
    finally:
        store.close()


@pytest.fixture
def schema(shared: Path) -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(shared / "schemas" / "atom.rng")))


def test_cerca_answers_a_valid_atom_feed_over_http(
    tmp_path: Path, shared: Path, schema: etree.RelaxNG
) -> None:
    (tmp_path / "articoli").mkdir()
    config = write_site_config(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", TOPICS)
    settings = load_settings(config, environ={})
    store = Store.open(settings.database_url)
    source = store.ensure_source(SourceSpec("Agenzia", "files", "/tmp/agenzia"))
    store.upsert_articles(source, [seed_draft(shared), draft("citta", "Traffico in città")])
    try:
        with serving(app_for(settings, search=search_feed(settings, store))) as root:
            base = f"{root}/cerca"
            answer = httpx.get(base, params={"q": "Corea del Nord"})
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("application/atom+xml")
            parsed = feedparser.parse(answer.content)
            assert parsed.bozo == 0
            assert [e.title for e in parsed.entries] == [seed_draft(shared).title]
            assert "cerca?q=Corea" in parsed.feed.id
            schema.assertValid(etree.fromstring(answer.content))
            again = httpx.get(base, params={"q": "Corea del Nord"})
            assert again.content == answer.content
            assert httpx.get(base, params={"q": "citta"}).status_code == 200
            empty = httpx.get(base, params={"q": "putin -ucraina"})
            assert empty.status_code == 200 and feedparser.parse(empty.content).entries == []
            schema.assertValid(etree.fromstring(empty.content))
            for bad in ("x" * 201, "*rina", ""):
                refused = httpx.get(base, params={"q": bad})
                assert refused.status_code == 400
                assert len(refused.text.strip().splitlines()) == 1
    finally:
        store.close()


FILTERED_TOPICS = [
    TopicDef("ponte", "Ponte", "ponte OR viadotto"),
    TopicDef("ponte-cronaca", "Ponte in cronaca", "ponte", categories=("Cronaca",)),
    TopicDef("scuola-borgo", "Scuola", "scuola", sources=("Gazzetta del borgo",)),
    TopicDef("mercato", "Mercato", "mercato", tags=("Piazza",), exclude=("sciopero",)),
]


def _memberships(store: Store) -> set[tuple[str, str]]:
    return {
        (topic.slug, article.guid)
        for topic in FILTERED_TOPICS
        for article in store.latest_articles(50, Section("topic", topic.slug))
    }


def test_ingest_time_matching_with_filters_equals_the_back_fill(any_store: Store) -> None:
    """Memberships found as articles are stored (each topic's query over the batch's ids)
    are those a back-fill over the whole store finds, filters and exclusions included."""
    borgo = any_store.ensure_source(SourceSpec("Gazzetta del borgo", "files", "/tmp/borgo"))
    valle = any_store.ensure_source(SourceSpec("Voce della valle", "files", "/tmp/valle"))
    any_store.sync_topics(FILTERED_TOPICS)
    any_store.upsert_articles(
        borgo,
        [
            draft("p1", "Il ponte sul fiume riapre", category="Cronaca"),
            draft("p2", "Un viadotto nuovo per la valle", category="Economia"),
            draft("s1", "La scuola elementare cambia orari"),
            draft("m1", "Il mercato del sabato", tags=("Piazza",)),
            draft("m2", "Mercato fermo per lo sciopero", tags=("Piazza",)),
        ],
    )
    any_store.upsert_articles(
        valle,
        [
            draft("p3", "Ponte chiuso per lavori", category="Cronaca"),
            draft("s2", "Scuola media, nuova palestra"),
            draft("m3", "Il mercato coperto", tags=("Coperti",)),
        ],
    )
    at_ingest = _memberships(any_store)
    assert at_ingest == {
        ("ponte", "p1"),
        ("ponte", "p2"),
        ("ponte", "p3"),
        ("ponte-cronaca", "p1"),
        ("ponte-cronaca", "p3"),
        ("scuola-borgo", "s1"),
        ("mercato", "m1"),
    }
    assert _back_filled(any_store) == at_ingest


def _back_filled(store: Store) -> set[tuple[str, str]]:
    """The memberships of the same topics under new definitions, back-filled from the
    whole store."""
    renamed = [
        TopicDef(
            t.slug,
            t.name,
            t.query + " OR zzzz",
            t.title,
            t.description,
            t.sources,
            t.categories,
            t.tags,
            t.exclude,
        )
        for t in FILTERED_TOPICS
    ]
    assert store.sync_topics(renamed) == [t.slug for t in FILTERED_TOPICS]
    return _memberships(store)


def test_memberships_of_batches_mixing_new_and_edited_articles(any_store: Store) -> None:
    """New articles (consecutive ids, no membership yet) and edited ones in one batch:
    edits that join, leave or stay out of topics beside new articles, with their ids
    apart or next to the new ones'."""
    borgo = any_store.ensure_source(SourceSpec("Gazzetta del borgo", "files", "/tmp/borgo"))
    any_store.sync_topics(FILTERED_TOPICS)
    any_store.upsert_articles(
        borgo,
        [
            draft("p1", "Il ponte sul fiume riapre", category="Cronaca"),
            draft("x1", "Niente di nuovo"),
            draft("s1", "La scuola elementare cambia orari"),
            draft("x2", "Ancora niente"),
        ],
    )
    # x1 joins a topic and p1 leaves both of its own; the new ids are not next to theirs.
    summary = any_store.upsert_articles(
        borgo,
        [
            draft("x1", "Il mercato del sabato", tags=("Piazza",)),
            draft("p1", "Il fiume in piena", category="Cronaca"),
            draft("s22", "Scuola media, nuova palestra"),
            draft("x3", "Niente da segnalare"),
        ],
    )
    assert summary.changed_topics == {"mercato", "ponte", "ponte-cronaca", "scuola-borgo"}
    # x3, the newest stored, joins a topic beside a new article whose id follows its own.
    summary = any_store.upsert_articles(
        borgo,
        [
            draft("x3", "Un viadotto per la valle"),
            draft("p333", "Ponte chiuso", category="Cronaca"),
        ],
    )
    assert summary.changed_topics == {"ponte", "ponte-cronaca"}
    at_ingest = _memberships(any_store)
    assert at_ingest == {
        ("mercato", "x1"),
        ("ponte", "x3"),
        ("ponte", "p333"),
        ("ponte-cronaca", "p333"),
        ("scuola-borgo", "s1"),
        ("scuola-borgo", "s22"),
    }
    assert _back_filled(any_store) == at_ingest


def test_a_refused_membership_is_a_store_error_and_stores_nothing(any_store: Store) -> None:
    """The memberships of new articles are written on the driver's cursor: a refusal there
    is the same `DatabaseError` naming the database as anywhere else, and the batch's
    articles are not stored without their memberships."""
    source = any_store.ensure_source(SourceSpec("Agenzia", "files", "/tmp/agenzia"))
    any_store.sync_topics([TopicDef("comune", "Comune", "consiglio comunale")])
    with any_store.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON topic_articles"
                " BEGIN SELECT RAISE(ABORT, 'membership refused'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RAISE EXCEPTION 'membership refused'; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON topic_articles"
                " FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
    with pytest.raises(DatabaseError, match=r"^database .*membership refused"):
        any_store.upsert_articles(source, [draft("nuovo", "Il consiglio comunale approva")])
    assert any_store.article_count() == 0


def test_the_larger_page_cache_of_a_batch_of_memberships_ends_with_it(tmp_path: Path) -> None:
    # The memberships of new articles are inserted with a 16 MiB SQLite page cache
    # (db.topics._membership_cache); the connection gets its own size back afterwards.
    store = Store.open(f"sqlite:///{tmp_path}/cache.db")
    try:
        borgo = store.ensure_source(SourceSpec("Gazzetta del borgo", "files", "/tmp/borgo"))
        store.sync_topics(FILTERED_TOPICS)
        with store.engine.connect() as connection:
            size = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
        summary = store.upsert_articles(
            borgo, [draft("p1", "Il ponte sul fiume riapre", category="Cronaca")]
        )
        assert summary.changed_topics == {"ponte", "ponte-cronaca"}
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar_one() == size
    finally:
        store.close()
