"""RFC 5005 archives, gzip twins, absolute content URLs, per-section limits and the removal
of feeds that are gone, all built from a real SQLite store and read back with real parsers."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import event

from db.blocked import set_hidden
from db.records import ArticleDraft, SourceSpec
from db.store import Store
from feeds.build import STATE_FILE, build_feeds
from tests import factories, reading
from tests.factories import build, snapshot
from tests.reading import parsed, xpath

BASE = factories.BASE_URL
SITE = factories.site_info("Rassegna d'archivio", items_per_feed=5, archive_page_size=5)
SOURCE = SourceSpec(name="Cronache del Lago", kind="files", location="/tmp/lago")
OTHER = SourceSpec(name="Eco della Valle", kind="files", location="/tmp/valle")
START = datetime(2025, 1, 1, 8, tzinfo=UTC)


def draft(n: int, **fields: Any) -> ArticleDraft:
    """Article `n` of the series, odd numbers in Cronaca and even ones in Sport."""
    return factories.numbered_draft(
        n, START, **{"category": "Cronaca" if n % 2 else "Sport", **fields}
    )


def fill(store: Store, numbers: range, spec: SourceSpec = SOURCE) -> int:
    source_id = store.ensure_source(spec)
    store.upsert_articles(source_id, [draft(n) for n in numbers])
    return source_id


def walk_atom(out: Path, start: Path, schema: etree.RelaxNG) -> tuple[list[str], list[Path]]:
    return reading.walk_atom(out, BASE, start, schema)


def local_path(out: Path, url: str) -> Path:
    return reading.local_path(out, BASE, url)


def test_walking_prev_archive_reaches_every_article_in_every_format(
    store: Store, out: Path, atom_schema: etree.RelaxNG
) -> None:
    fill(store, range(1, 24))  # 23 articles: 4 full pages of 5, 3 more in the feed only
    build(store, out, SITE)
    every = {a.uid for a in store.latest_articles(100)}
    oldest = store.latest_articles(100)[-1].uid

    ids, documents = walk_atom(out, out / "atom.xml", atom_schema)
    assert set(ids) == every
    assert ids[-1] == oldest  # the walk ends at the very first article
    assert [str(d.relative_to(out)) for d in documents] == [
        "atom.xml",
        "archivio/4/atom.xml",
        "archivio/3/atom.xml",
        "archivio/2/atom.xml",
        "archivio/1/atom.xml",
    ]
    for page in range(1, 5):
        tree = etree.parse(str(out / f"archivio/{page}/atom.xml"))
        assert len(xpath(tree, "/a:feed/fh:archive")) == 1
        assert xpath(tree, "/a:feed/a:link[@rel='current']/@href") == [BASE + "atom.xml"]
        assert xpath(tree, "/a:feed/a:link[@rel='self']/@href") == [
            f"{BASE}archivio/{page}/atom.xml"
        ]
        assert xpath(tree, "/a:feed/a:link[@rel='next-archive']/@href") == [
            f"{BASE}archivio/{page + 1}/atom.xml"
        ]
        assert len(xpath(tree, "/a:feed/a:entry")) == 5
    assert not xpath(etree.parse(str(out / "atom.xml")), "//fh:archive")

    # RSS: atom:link rel="prev-archive" to RSS documents, <fh:archive/> in the channel.
    rss_ids, rss_documents = reading.walk_rss(out, BASE, out / "rss.xml")
    for document in rss_documents:
        is_archive = bool(xpath(etree.parse(str(document)), "/rss/channel/fh:archive"))
        assert is_archive == (document != out / "rss.xml")
    assert set(rss_ids) == every

    # JSON Feed: next_url to the older page, down to page 1 which has none.
    json_ids = reading.walk_json(out, BASE, out / "feed.json")
    assert set(json_ids) == every
    assert json_ids[-1] == oldest


def test_archive_pages_are_written_once_and_never_change(
    store: Store, out: Path, atom_schema: etree.RelaxNG
) -> None:
    fill(store, range(1, 13))  # 12: pages 1 and 2 full
    build(store, out, SITE)
    pages = {k: v for k, v in snapshot(out).items() if k.startswith("archivio/")}
    assert {k.split("/")[1] for k in pages} == {"1", "2"}

    fill(store, range(13, 19))  # 18: page 3 fills up
    report = build(store, out, SITE)
    after = snapshot(out)
    for name, before in pages.items():
        assert after[name] == before, f"{name} changed"
    assert {"archivio/3/rss.xml", "archivio/3/atom.xml", "archivio/3/feed.json"} <= set(
        report.written
    )
    assert not (out / "archivio/4").exists()
    # Page 2's next-archive, fixed from the start, now leads somewhere.
    ids, _ = walk_atom(out, out / "archivio/3/atom.xml", atom_schema)
    assert len(ids) == 15

    # Editing an archived article leaves its page as it was (immutable), and a build
    # with nothing new touches nothing.
    source_id = store.ensure_source(SOURCE)
    store.upsert_articles(source_id, [draft(2, title="Titolo corretto dopo")])
    build(store, out, SITE)
    assert snapshot(out)["archivio/1/atom.xml"] == after["archivio/1/atom.xml"]
    steady = snapshot(out)
    assert build(store, out, SITE).written == []
    assert snapshot(out) == steady


def test_section_feeds_have_their_own_archives(store: Store, out: Path) -> None:
    fill(store, range(1, 23))  # 11 odd (Cronaca), 11 even (Sport)
    build(store, out, SITE)
    for section in ("categoria/cronaca", "categoria/sport", "fonte/cronache-del-lago"):
        assert (out / section / "archivio/1/atom.xml").exists()
    assert (out / "categoria/cronaca/archivio/2/rss.xml").exists()
    assert not (out / "categoria/cronaca/archivio/3").exists()
    cronaca = parsed(out / "categoria/cronaca/archivio/1/rss.xml")
    assert {e.title for e in cronaca.entries} == {
        f"Notizia numero {n}: perché è già così" for n in (1, 3, 5, 7, 9)
    }


def test_a_page_larger_than_the_feed_leaves_no_gap(store: Store, out: Path) -> None:
    site = replace(SITE, items_per_feed=3, archive_page_size=10)
    fill(store, range(1, 18))  # 17: one page of 10, 7 left for the current feed
    build(store, out, site)
    current = parsed(out / "rss.xml")
    page = parsed(out / "archivio/1/rss.xml")
    assert len(current.entries) == 7
    assert len({e.id for e in current.entries} | {e.id for e in page.entries}) == 17


def test_gzip_twins_match_their_files_and_stay_put(store: Store, out: Path) -> None:
    fill(store, range(1, 8))
    build(store, out, SITE)
    published = [p for p in out.rglob("*") if p.is_file() and p.suffix != ".gz"]
    published = [p for p in published if p.name != STATE_FILE]
    assert published
    for path in published:
        twin = path.with_name(path.name + ".gz")
        assert gzip.decompress(twin.read_bytes()) == path.read_bytes()
        assert twin.stat().st_mtime_ns == path.stat().st_mtime_ns
        assert twin.read_bytes()[4:8] == b"\0\0\0\0"  # no timestamp in the header
    before = snapshot(out)
    (out / STATE_FILE).unlink()  # rendering again must give the same .gz bytes too
    assert build(store, out, SITE).written == []
    assert snapshot(out) == before
    (out / "rss.xml.gz").unlink()
    build(store, out, SITE)
    assert (out / "rss.xml.gz").read_bytes() == before["rss.xml.gz"][0]


def test_relative_urls_in_content_become_absolute_in_every_format(store: Store, out: Path) -> None:
    source_id = store.ensure_source(SOURCE)
    content = (
        '<p>Vedi <a href="/archivio/2024">l\'archivio</a> e la '
        '<a href="seconda">seconda parte</a>.</p>'
        '<p><img src="foto/lago.jpg" srcset="foto/lago-2x.jpg 2x, /img/lago.webp 800w" '
        'alt="Il lago"></p>'
    )
    store.upsert_articles(
        source_id,
        [
            draft(1, content_html=content),
            draft(2, content_html=content, url=None),  # no URL of its own: the site's
        ],
    )
    build(store, out, SITE)
    expected = {
        "https://lago.example.it/notizie/1": [
            "https://lago.example.it/archivio/2024",
            "https://lago.example.it/notizie/seconda",
            "https://lago.example.it/notizie/foto/lago.jpg",
            "https://lago.example.it/notizie/foto/lago-2x.jpg 2x, https://lago.example.it/img/lago.webp 800w",
        ],
        SITE.link: [
            "https://rassegna.example.it/archivio/2024",
            "https://rassegna.example.it/seconda",
            "https://rassegna.example.it/foto/lago.jpg",
            "https://rassegna.example.it/foto/lago-2x.jpg 2x, https://rassegna.example.it/img/lago.webp 800w",
        ],
    }
    # Read raw (feedparser's sanitizer would drop srcset).
    content_ns = "http://purl.org/rss/1.0/modules/content/"
    feeds = {
        "rss": xpath(etree.parse(str(out / "rss.xml")), "//*[local-name()='encoded']/text()"),
        "atom": xpath(etree.parse(str(out / "atom.xml")), "//a:entry/a:content/text()"),
        "json": [i["content_html"] for i in json.loads((out / "feed.json").read_bytes())["items"]],
    }
    assert content_ns in (out / "rss.xml").read_text("utf-8")
    for name, contents in feeds.items():
        assert len(contents) == 2, name
        for html in contents:
            root = etree.fromstring(f"<div>{html}</div>", etree.HTMLParser())
            urls = xpath(root, "//a/@href | //img/@src | //img/@srcset")
            assert sorted(map(str, urls)) in [sorted(v) for v in expected.values()], (name, urls)
            assert "Il lago" in html


def test_per_section_limits(store: Store, out: Path) -> None:
    site = replace(
        SITE, items_per_feed=6, archive_page_size=0, limits=(("categoria", 2), ("fonte", 4))
    )
    fill(store, range(1, 11))
    build(store, out, site)
    assert len(parsed(out / "rss.xml").entries) == 6
    assert len(parsed(out / "categoria/cronaca/atom.xml").entries) == 2
    assert len(json.loads((out / "categoria/sport/feed.json").read_bytes())["items"]) == 2
    assert len(parsed(out / "fonte/cronache-del-lago/rss.xml").entries) == 4


def test_feeds_that_are_gone_are_removed_but_foreign_files_stay(store: Store, out: Path) -> None:
    fill(store, range(1, 4))
    other_id = store.ensure_source(OTHER)
    store.upsert_articles(other_id, [draft(50, guid="valle.txt", category="Montagna")])
    build(store, out, SITE)
    assert (out / "categoria/montagna/rss.xml.gz").exists()
    assert (out / "fonte/eco-della-valle/atom.xml").exists()
    (out / "fonte/eco-della-valle/LEGGIMI.txt").write_text("di qualcun altro", encoding="utf-8")

    store.delete_source_articles(other_id, ["valle.txt"])
    report = build(store, out, SITE)
    assert not (out / "categoria/montagna").exists()
    assert "categoria/montagna/rss.xml" in report.removed
    assert sorted(p.name for p in (out / "fonte/eco-della-valle").iterdir()) == ["LEGGIMI.txt"]
    assert (out / "categoria/cronaca/rss.xml").exists()
    opml = (out / "opml.xml").read_text("utf-8")
    assert "montagna" not in opml
    assert build(store, out, SITE).removed == []


# -- bounded archive building ---------------------------------------------------------------

PAGED = replace(SITE, title="Rassegna lunga", items_per_feed=50, archive_page_size=50)
# ~4 KB of text per article, twice (HTML and plain), so that holding a feed's history shows.
LONG_TEXT = "Il consiglio comunale ha discusso perché la città è già cambiata così. " * 56


def fill_long(store: Store, count: int) -> None:
    source_id = store.ensure_source(SOURCE)
    for start in range(1, count + 1, 500):
        numbers = range(start, min(start + 500, count + 1))
        store.upsert_articles(
            source_id,
            [draft(n, content_html=f"<p>{LONG_TEXT}</p>", content_text=LONG_TEXT) for n in numbers],
        )


def archive_pages(out: Path) -> set[str]:
    """Every archive page written, as "<feed folder>/archivio/<n>"."""
    return {str(p.parent.relative_to(out)) for p in out.rglob("archivio/*/atom.xml")}


def build_peak(store: Store, out: Path, max_archive_pages: int) -> int:
    """The peak of Python allocations during one build (tracemalloc, in process)."""
    tracemalloc.start()
    try:
        build_feeds(store, PAGED, out, fsync=False, max_archive_pages=max_archive_pages)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_archive_memory_does_not_grow_with_the_history(tmp_path: Path) -> None:
    # The same number of pages (the cap) written from a 300- and a 3,000-article history:
    # loading a feed's history at once (the old way) took ~10x more for the larger one.
    peaks = {}
    for count in (300, 3000):
        store = Store.open(f"sqlite:///{tmp_path / f'{count}.db'}")
        try:
            fill_long(store, count)
            out = tmp_path / f"public-{count}"
            peaks[count] = build_peak(store, out, max_archive_pages=18)
            assert len(archive_pages(out)) == 18  # every page of the smaller one
        finally:
            store.close()
    history_bytes = 3000 * 2 * len(LONG_TEXT)  # HTML and text of every article: ~24 MB
    # Measured: ~7 MB and ~8.3 MB: the build's bounded entry cache (`feeds.build`
    # _CACHE_LIMIT) keeps the ~450 distinct articles of the larger store's 18 pages; the
    # old way held the whole history, ~10x more.
    assert peaks[3000] < history_bytes / 2, peaks
    assert peaks[3000] < peaks[300] * 1.5 + 1_000_000, peaks


def test_capped_archives_appear_over_successive_builds(
    store: Store, out: Path, atom_schema: etree.RelaxNG
) -> None:
    fill(store, range(1, 601))  # root and source: 12 pages of 50; each category: 6
    every = {a.uid for a in store.latest_articles(1000)}
    oldest = store.latest_articles(1000)[-1].uid
    site = replace(PAGED, items_per_feed=10)

    first = build_feeds(store, site, out, fsync=False, max_archive_pages=10)
    assert len(archive_pages(out)) == 10
    assert first.archive_pages_pending == 36 - 10
    # Newest pages first: the subscription document's prev-archive already leads somewhere.
    assert "archivio/12" in archive_pages(out)
    assert "archivio/1" not in archive_pages(out)
    prev = xpath(etree.parse(str(out / "atom.xml")), "/a:feed/a:link[@rel='prev-archive']/@href")
    assert local_path(out, prev[0]).exists()

    written_pages: dict[str, tuple[bytes, int]] = {}
    pending = first.archive_pages_pending
    for _ in range(3):
        before = {k: v for k, v in snapshot(out).items() if "archivio/" in k}
        report = build_feeds(store, site, out, fsync=False, max_archive_pages=10)
        # Only archive pages are written; the pages already there never change.
        assert report.written and all("/archivio/" in f"/{p}" for p in report.written)
        after = snapshot(out)
        assert all(after[k] == v for k, v in before.items())
        assert report.archive_pages_pending == max(pending - 10, 0)
        pending = report.archive_pages_pending
        written_pages = {k: v for k, v in after.items() if "archivio/" in k}
    assert pending == 0
    assert len(archive_pages(out)) == 36

    ids, documents = walk_atom(out, out / "atom.xml", atom_schema)
    assert set(ids) == every
    assert ids[-1] == oldest
    assert len(documents) == 13
    steady = snapshot(out)
    assert build_feeds(store, site, out, fsync=False, max_archive_pages=10).written == []
    assert snapshot(out) == steady
    assert {k: v for k, v in steady.items() if "archivio/" in k} == written_pages


def _kept_counts(out: Path) -> dict[tuple[str | None, str], int]:
    rows = json.loads((out / STATE_FILE).read_bytes())["counts"]["counts"]
    return {(kind, slug): count for kind, slug, count in rows}


def _true_counts(store: Store) -> dict[tuple[str | None, str], int]:
    counts = store.section_counts(authors=False)
    return {(None, "") if s is None else (s.kind, s.slug): n for s, n in counts.items()}


def test_kept_section_counts_follow_every_change(any_store: Store, out: Path) -> None:
    store = any_store
    source = fill(store, range(1, 24))
    build(store, out, SITE)
    assert _kept_counts(out) == _true_counts(store)
    assert _kept_counts(out)[("category", "cronaca")] == 12
    # New articles are added to what was counted.
    fill(store, range(24, 31))
    build(store, out, SITE)
    assert _kept_counts(out)[("category", "cronaca")] == 15
    assert _kept_counts(out) == _true_counts(store)
    # An edit moving an article to another category, a hidden one, a new source.
    store.upsert_articles(source, [draft(3, category="Sport", title="Spostata")])
    build(store, out, SITE)
    assert _kept_counts(out)[("category", "cronaca")] == 14
    assert _kept_counts(out) == _true_counts(store)
    assert set_hidden(store.engine, [store.latest_articles(1)[0].id], True) == 1
    build(store, out, SITE)
    assert _kept_counts(out) == _true_counts(store)
    fill(store, range(31, 34), OTHER)
    build(store, out, SITE)
    assert _kept_counts(out)[("source", "eco-della-valle")] == 3
    assert _kept_counts(out) == _true_counts(store)
    # Nothing changed since: the kept counts are used as they are, nothing is counted
    # and the state is not rewritten.
    state = (out / STATE_FILE).stat()
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]).lower())

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        assert build_feeds(store, SITE, out, fsync=False).written == []
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert statements and not [sql for sql in statements if "count(" in sql]
    assert (out / STATE_FILE).stat().st_mtime_ns == state.st_mtime_ns
