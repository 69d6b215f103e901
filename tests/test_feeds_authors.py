"""Author feeds (`autore/<slug>/`, `output.author_feeds`) and topic feed archives, built
from real stores (SQLite and PostgreSQL) and read back with feedparser, lxml and the Atom
RELAX NG schema; and the revision 0007 back-fill of `article_authors`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from db.migrate import current_revision
from db.records import ArticleDraft, Section, SourceSpec, TopicDef
from db.store import Store
from rassegna.config import load_settings
from rassegna.operations import site_info
from tests import factories, reading
from tests.conftest import write_config
from tests.factories import build, contents
from tests.old_rows import insert_old_articles, old_database
from tests.reading import parsed, xpath

BASE = factories.BASE_URL
SITE = factories.site_info(
    "Rassegna delle firme",
    items_per_feed=4,
    archive_page_size=4,
    author_feeds=True,
    min_author_articles=3,
)
SOURCE = SourceSpec(name="Cronache del Lago", kind="files", location="/tmp/lago")
START = datetime(2025, 3, 1, 8, tzinfo=UTC)
ROSSI = "Mario Rossi"
BIANCHI = "Lucia Bianchi"
RARE = "Niccolò Verdi"  # signs two articles: under the threshold of three


def authors_of(n: int) -> tuple[str, ...]:
    """Rossi signs every article; Bianchi every third (the same person, spelled two ways);
    Verdi only articles 1 and 2."""
    names = [ROSSI]
    if n % 3 == 0:
        names.append(BIANCHI if n % 2 else "LUCIA  BIANCHI")
    if n in (1, 2):
        names.append(RARE)
    return tuple(names)


def draft(n: int, **fields: Any) -> ArticleDraft:
    """Article `n` of the series, in Cronaca, about the town council, signed `authors_of(n)`."""
    values: dict[str, Any] = {
        "guid": f"firma-{n:03}.txt",
        "title": f"Notizia firmata {n}: è già così",
        "body": f"Testo {n} del consiglio comunale: è, à, ù.",
        "url": f"https://lago.example.it/firme/{n}",
        "category": "Cronaca",
        "authors": authors_of(n),
    }
    return factories.numbered_draft(n, START, **(values | fields))


def fill(store: Store, numbers: range) -> int:
    source_id = store.ensure_source(SOURCE)
    store.upsert_articles(source_id, [draft(n) for n in numbers])
    return source_id


def walk(out: Path, folder: str, schema: etree.RelaxNG) -> tuple[list[str], list[str], list[str]]:
    """Follow a feed's history in all three formats from its subscription documents: the
    entry ids met by Atom `prev-archive`, RSS `atom:link rel="prev-archive"` and JSON Feed
    `next_url`, each document validated on the way."""
    atom_ids, _ = reading.walk_atom(out, BASE, out / folder / "atom.xml", schema)
    rss_ids, _ = reading.walk_rss(out, BASE, out / folder / "rss.xml")
    return atom_ids, rss_ids, reading.walk_json(out, BASE, out / folder / "feed.json")


def test_author_feeds_only_when_configured_and_over_the_threshold(
    any_store: Store, tmp_path: Path, atom_schema: etree.RelaxNG
) -> None:
    fill(any_store, range(1, 15))  # Rossi 14 articles, Bianchi 4, Verdi 2
    assert [a.slug for a in any_store.authors(3)] == ["lucia-bianchi", "mario-rossi"]
    assert [a.slug for a in any_store.authors(1)] == [
        "lucia-bianchi",
        "mario-rossi",
        "niccolo-verdi",
    ]

    off = tmp_path / "off"
    build(any_store, off, replace(SITE, author_feeds=False))
    assert not (off / "autore").exists()
    assert b"autore/" not in (off / "opml.xml").read_bytes()

    out = tmp_path / "public"
    report = build(any_store, out, SITE)
    assert sorted(s.folder for s in report.feeds if s.kind == "autore") == [
        "autore/lucia-bianchi",
        "autore/mario-rossi",
    ]
    assert not (out / "autore" / "niccolo-verdi").exists()
    for slug, name, count in (("mario-rossi", ROSSI, 14), ("lucia-bianchi", BIANCHI, 4)):
        folder = out / "autore" / slug
        for filename in ("rss.xml", "atom.xml", "feed.json", "atom.xml.gz"):
            assert (folder / filename).is_file(), f"{slug}/{filename}"
        atom = etree.parse(str(folder / "atom.xml"))
        assert atom_schema.validate(atom), atom_schema.error_log
        assert xpath(atom, "/a:feed/a:link[@rel='self']/@href") == [f"{BASE}autore/{slug}/atom.xml"]
        assert name in xpath(atom, "/a:feed/a:title/text()")[0]
        # Every entry of the feed is signed by that author, in every format.
        parsed(folder / "rss.xml")
        items = xpath(etree.parse(str(folder / "rss.xml")), "/rss/channel/item")
        assert 0 < len(items) <= SITE.items_per_feed
        for item in items:
            creators = xpath(item, "dc:creator/text()")
            assert name.casefold() in [" ".join(str(c).casefold().split()) for c in creators]
        document = json.loads((folder / "feed.json").read_bytes())
        assert all(
            any(a["name"].casefold().split() == name.casefold().split() for a in i["authors"])
            for i in document["items"]
        )
        # The whole history is reachable through the archives.
        atom_ids, rss_ids, json_ids = walk(out, f"autore/{slug}", atom_schema)
        assert len(set(atom_ids)) == len(set(rss_ids)) == len(set(json_ids)) == count

    # Listed for people and for feed readers.
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<h3>Autori</h3>" in index
    assert f"{BASE}autore/mario-rossi/rss.xml" in index
    assert "niccolo-verdi" not in index
    opml = etree.parse(str(out / "opml.xml"))
    urls = xpath(opml, "//outline/@xmlUrl")
    assert f"{BASE}autore/lucia-bianchi/rss.xml" in urls
    assert f"{BASE}autore/niccolo-verdi/rss.xml" not in urls


def test_author_feeds_are_byte_stable_and_follow_edits(any_store: Store, tmp_path: Path) -> None:
    source_id = fill(any_store, range(1, 10))
    first, second = tmp_path / "a", tmp_path / "b"
    build(any_store, first, SITE)
    assert build(any_store, first, SITE).written == []  # nothing changed: nothing rewritten
    build(any_store, second, SITE)
    assert contents(first) == contents(second)  # same store, same bytes

    # Verdi signs a third article: his feed appears. Article 9 loses Bianchi's byline:
    # with two articles left (3 and 6) she falls under the threshold and her feed goes.
    assert (first / "autore" / "lucia-bianchi" / "atom.xml").is_file()
    any_store.upsert_articles(source_id, [draft(12, authors=(RARE,)), draft(9, authors=(ROSSI,))])
    report = build(any_store, first, SITE)
    assert "autore/niccolo-verdi/atom.xml" in report.written
    verdi = parsed(first / "autore" / "niccolo-verdi" / "rss.xml")
    assert [e.link for e in verdi.entries] == [
        f"https://lago.example.it/firme/{n}" for n in (12, 2, 1)
    ]
    assert "autore/lucia-bianchi/atom.xml" in report.removed
    assert not (first / "autore" / "lucia-bianchi").exists()
    assert [a.slug for a in any_store.authors(1)][:1] == ["lucia-bianchi"]
    assert len(any_store.latest_articles(10, Section("author", "lucia-bianchi"))) == 2


def test_topic_feeds_have_archives_like_sections(
    any_store: Store, tmp_path: Path, atom_schema: etree.RelaxNG
) -> None:
    any_store.sync_topics([TopicDef("consiglio", "Consiglio comunale", "consiglio comunale")])
    fill(any_store, range(1, 12))  # 11 matches: 2 full pages of 4, 3 in the feed only
    out = tmp_path / "public"
    build(any_store, out, SITE)
    every = {a.uid for a in any_store.latest_articles(100, Section("topic", "consiglio"))}
    assert len(every) == 11
    for page in (1, 2):
        assert (out / f"tema/consiglio/archivio/{page}/atom.xml").is_file()
    assert not (out / "tema/consiglio/archivio/3").exists()
    atom_ids, rss_ids, json_ids = walk(out, "tema/consiglio", atom_schema)
    assert set(atom_ids) == set(rss_ids) == set(json_ids) == every
    oldest = any_store.latest_articles(100, Section("topic", "consiglio"))[-1].uid
    assert atom_ids[-1] == json_ids[-1] == oldest
    archived = etree.parse(str(out / "tema/consiglio/archivio/2/atom.xml"))
    assert len(xpath(archived, "/a:feed/fh:archive")) == 1
    assert xpath(archived, "/a:feed/a:link[@rel='current']/@href") == [
        f"{BASE}tema/consiglio/atom.xml"
    ]


def test_upgrade_to_0007_back_fills_the_authors(bare_url: str) -> None:
    """Articles stored before revision 0007 get their `article_authors` rows, so author
    feeds show them, newest first, under the first spelling met."""
    engine, tables = old_database(bare_url, "0006")
    assert "article_authors" not in tables
    bylines: list[list[str]] = [[ROSSI], [" mario  rossi", BIANCHI], [], [BIANCHI, BIANCHI]]
    articles = [
        {
            "guid": f"g{n}",
            "title": f"Articolo {n}",
            "authors": names,
            "published": START + timedelta(hours=n),
            "slug": f"articolo-{n}",
        }
        for n, names in enumerate(bylines)
    ]
    with engine.begin() as connection:
        insert_old_articles(connection, tables, START, articles)
    engine.dispose()
    store = Store.open(bare_url)  # migrates to head
    try:
        assert current_revision(store.engine) is not None
        assert [(a.name, a.slug) for a in store.authors(1)] == [
            (BIANCHI, "lucia-bianchi"),
            (ROSSI, "mario-rossi"),
        ]
        assert [a.guid for a in store.latest_articles(10, Section("author", "mario-rossi"))] == [
            "g1",
            "g0",
        ]
        assert [a.guid for a in store.latest_articles(10, Section("author", "lucia-bianchi"))] == [
            "g3",
            "g1",
        ]
        assert store.section_counts()[Section("author", "lucia-bianchi")] == 2
    finally:
        store.close()


def test_author_feed_settings_reach_the_build(tmp_path: Path) -> None:
    """`[output] author_feeds`, `min_author_articles` and `limits.autore` from the TOML file
    (and the environment) become the build's settings; off by default."""
    (tmp_path / "articoli").mkdir()
    body = '[site]\ntitle = "Prova"\n\n[[sources]]\nname = "Locale"\nkind = "files"\n'
    body += 'path = "articoli"\n'
    default = site_info(load_settings(write_config(tmp_path, body), environ={}))
    assert (default.author_feeds, default.min_author_articles) == (False, 2)
    assert default.limit("autore") == default.items_per_feed

    body += "\n[output]\nauthor_feeds = true\nmin_author_articles = 5\n"
    body += "\n[output.limits]\nautore = 7\ntema = 9\n"
    site = site_info(load_settings(write_config(tmp_path, body), environ={}))
    assert (site.author_feeds, site.min_author_articles) == (True, 5)
    assert (site.limit("autore"), site.limit("tema")) == (7, 9)
    env = {"RASSEGNA_OUTPUT__AUTHOR_FEEDS": "false"}
    assert not site_info(load_settings(write_config(tmp_path, body), environ=env)).author_feeds
