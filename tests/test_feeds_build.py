"""`feeds.build`: every feed built from a real SQLite store, read back with real parsers."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree, html

from db.records import ArticleDraft, SourceSpec
from db.store import Store
from feeds.build import STATE_FILE
from feeds.errors import FeedError
from feeds.site import SiteInfo
from tests import factories, reading
from tests.factories import build, snapshot
from tests.reading import xpath

BASE = "http://127.0.0.1:8080/"
SITE = SiteInfo(
    title="Rassegna di prova",
    link="https://rassegna.example.it/",
    base_url=BASE,
    description="Notizie italiane raccolte per i test",
)

GAZZETTA = SourceSpec(name="Gazzetta di Prova", kind="files", location="/tmp/gazzetta")
PO = SourceSpec(name="Notizie dal Po", kind="files", location="/tmp/po")


def _when(day: int, hour: int, minute: int = 0) -> datetime:
    # Around the DST change of 30 March 2025 in Europe/Rome (02:00 CET -> 03:00 CEST).
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def _draft(guid: str, title: str, **fields: Any) -> ArticleDraft:
    values: dict[str, Any] = {
        "summary": f"In breve: {title.lower()}.",
        "published": _when(28, 9),
    }
    values.update(fields)
    return factories.draft(
        guid, title, f"{title}: ecco perché se ne parla così tanto in città.", **values
    )


GAZZETTA_DRAFTS = [
    _draft(
        "universita.txt",
        "L'università apre un laboratorio sull'energia",
        published=_when(28, 8),
        url="https://gazzetta.example.it/universita",
        authors=("Giulia Bianchi",),
        category="Cronaca",
        tags=("Università", "Ricerca"),
    ),
    _draft(
        "caffe.txt",
        "Perché il caffè al banco costerà di più",
        published=_when(29, 10, 30),
        url="https://gazzetta.example.it/caffe",
        authors=("Marco Neri", "Lucia Verdi"),
        category="Economia",
        tags=("Prezzi",),
    ),
    _draft(
        "festa.txt",
        "La città si prepara alla festa di primavera",
        published=_when(30, 7),
        url="https://gazzetta.example.it/festa",
        category="Cronaca",
        tags=("Università", "Eventi"),
    ),
]
PO_DRAFTS = [
    _draft(
        "piste.md",
        "Più piste ciclabili in periferia: sarà davvero così?",
        summary="",
        published=_when(30, 12),
        category="Cronaca",
        tags=("Ricerca",),
    ),
    _draft(
        "estate.md",
        "Un'estate più calda: ciò che dicono i dati",
        published=_when(31, 6, 15),
        url="https://po.example.it/estate",
        authors=("Anna Russo",),
        category="Ambiente",
        image_url="https://po.example.it/immagini/estate.jpg",
    ),
    _draft(
        "treni.md",
        "Treni regionali: cosa cambierà da lunedì",
        published=_when(27, 18),
        url="https://po.example.it/treni",
        category="Trasporti",
    ),
]
ALL_TITLES = {d.title for d in GAZZETTA_DRAFTS + PO_DRAFTS}


def fill(store: Store) -> dict[str, int]:
    ids = {}
    for spec, drafts in ((GAZZETTA, GAZZETTA_DRAFTS), (PO, PO_DRAFTS)):
        ids[spec.name] = store.ensure_source(spec)
        store.upsert_articles(ids[spec.name], drafts)
    return ids


@pytest.fixture
def filled(store: Store) -> Iterator[Store]:
    fill(store)
    yield store


def feed_files(out: Path, suffix: str) -> list[Path]:
    return sorted(p for p in out.rglob(f"*{suffix}") if not p.name.startswith("."))


def test_layout_follows_the_output_contract(filled: Store, out: Path) -> None:
    report = build(filled, out, SITE)
    expected_folders = {
        "",
        "categoria/ambiente",
        "categoria/cronaca",
        "categoria/economia",
        "categoria/trasporti",
        "fonte/gazzetta-di-prova",
        "fonte/notizie-dal-po",
        # Tags with at least min_tag_articles (2) articles only.
        "tag/ricerca",
        "tag/universita",
    }
    expected = {"index.html", "opml.xml", "feed.xsl"}
    for folder in expected_folders:
        for name in ("rss.xml", "atom.xml", "feed.json"):
            expected.add(f"{folder}/{name}" if folder else name)
    assert set(report.written) == expected
    assert report.unchanged == []
    gzipped = {f"{name}.gz" for name in expected}
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == expected | {
        STATE_FILE
    } | gzipped
    assert not (out / "tag" / "prezzi").exists()
    assert {f.folder for f in report.changed_feeds} == expected_folders


def test_every_rss_file_reads_back_with_accents_links_and_guids(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    root = reading.parsed(out / "rss.xml")
    assert root.version == "rss20"
    assert root.feed.title == SITE.title
    assert root.feed.link == SITE.link
    assert root.feed.language == "it"
    assert {e.title for e in root.entries} == ALL_TITLES
    stored = {a.uid: a for a in filled.latest_articles(50)}
    for entry in root.entries:
        article = stored[entry.id]
        assert entry.guidislink is False
        # Without a URL of its own, an article links to its page here, never the home page.
        assert entry.link == (article.url or f"{BASE}{article.page_path}/")
        assert article.url or article.page_path.startswith("articoli/2025/03/")
        assert entry.title == article.title
        assert entry.content[0].value == article.content_html
        assert "perché" in entry.content[0].value
    piste = next(e for e in root.entries if e.title.startswith("Più piste"))
    # No summary stored: the start of the text stands in for it.
    assert piste.summary.startswith("Più piste ciclabili in periferia")
    assert piste.link.startswith(f"{BASE}articoli/2025/03/")
    caffe = next(e for e in root.entries if "caffè" in e.title)
    assert [a["name"] for a in caffe.authors] == ["Marco Neri", "Lucia Verdi"]
    assert {t.term for t in caffe.tags} == {"Economia", "Prezzi"}
    raw = (out / "rss.xml").read_text("utf-8")
    assert "<author>" not in raw
    assert "<dc:creator>Marco Neri</dc:creator>" in raw
    for path in feed_files(out, "rss.xml"):
        parsed = reading.parsed(path)
        assert parsed.version == "rss20"
        assert parsed.entries, path


def test_every_atom_file_is_valid_rfc4287(
    filled: Store, out: Path, atom_schema: etree.RelaxNG
) -> None:
    build(filled, out, SITE)
    atom_files = feed_files(out, "atom.xml")
    assert len(atom_files) == 9
    for path in atom_files:
        document = etree.parse(str(path))
        assert atom_schema.validate(document), f"{path}: {atom_schema.error_log}"
        parsed = reading.parsed(path)
        assert parsed.version == "atom10"
        assert parsed.feed.language == "it"
        for entry in parsed.entries:
            assert entry.id.startswith("urn:uuid:")
            assert entry.author  # always present: the site title stands in
    root = reading.parsed(out / "atom.xml")
    assert {e.title for e in root.entries} == ALL_TITLES
    festa = next(e for e in root.entries if "festa" in e.title)
    assert festa.author == SITE.title


def test_self_links_point_at_each_file(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    for path in feed_files(out, ".xml"):
        if path.name == "opml.xml":
            continue
        url = BASE + str(path.relative_to(out))
        tree = etree.parse(str(path))
        selfs = xpath(tree, "//a:link[@rel='self']/@href")
        assert selfs == [url]
    for path in feed_files(out, "feed.json"):
        assert json.loads(path.read_bytes())["feed_url"] == BASE + str(path.relative_to(out))


def test_base_url_without_trailing_slash_gives_the_same_links(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    other = out.parent / "other"
    build(filled, other, replace(SITE, base_url=BASE.rstrip("/")))
    assert (out / "categoria/cronaca/rss.xml").read_bytes() == (
        other / "categoria/cronaca/rss.xml"
    ).read_bytes()


def test_section_feeds_hold_only_their_articles_newest_first(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    cronaca = reading.parsed(out / "categoria/cronaca/rss.xml")
    assert [e.title for e in cronaca.entries] == [
        "Più piste ciclabili in periferia: sarà davvero così?",
        "La città si prepara alla festa di primavera",
        "L'università apre un laboratorio sull'energia",
    ]
    po = reading.parsed(out / "fonte/notizie-dal-po/atom.xml")
    assert {e.title for e in po.entries} == {d.title for d in PO_DRAFTS}
    uni = json.loads((out / "tag/universita/feed.json").read_bytes())
    assert [i["title"] for i in uni["items"]] == [
        "La città si prepara alla festa di primavera",
        "L'università apre un laboratorio sull'energia",
    ]
    root = reading.parsed(out / "rss.xml")
    dates = [e.published_parsed for e in root.entries]
    assert dates == sorted(dates, reverse=True)


def test_items_per_feed_limits_every_feed(filled: Store, out: Path) -> None:
    build(filled, out, replace(SITE, items_per_feed=2))
    assert len(reading.parsed(out / "rss.xml").entries) == 2
    assert len(reading.parsed(out / "categoria/cronaca/atom.xml").entries) == 2
    assert len(json.loads((out / "feed.json").read_bytes())["items"]) == 2


def test_dates_are_rfc822_and_rfc3339_in_rome_across_dst(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    rss = (out / "rss.xml").read_text("utf-8")
    # 28 March 08:00 UTC is 09:00 CET; 31 March 06:15 UTC is 08:15 CEST.
    assert "<pubDate>Fri, 28 Mar 2025 09:00:00 +0100</pubDate>" in rss
    assert "<pubDate>Mon, 31 Mar 2025 08:15:00 +0200</pubDate>" in rss
    atom = (out / "atom.xml").read_text("utf-8")
    assert "<published>2025-03-28T09:00:00+01:00</published>" in atom
    assert "<published>2025-03-31T08:15:00+02:00</published>" in atom
    for date in re.findall(r"<(?:pubDate|lastBuildDate)>([^<]*)<", rss):
        assert re.fullmatch(
            r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
            r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}",
            date,
        ), date


def test_feed_level_dates_come_from_the_newest_item(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    newest = max(a.updated for a in filled.latest_articles(50))
    atom = reading.parsed(out / "atom.xml")
    assert atom.feed.updated_parsed[:6] == newest.timetuple()[:6]
    rss = reading.parsed(out / "rss.xml")
    assert rss.feed.updated_parsed[:6] == newest.timetuple()[:6]
    data = json.loads((out / "feed.json").read_bytes())
    assert max(i["date_modified"] for i in data["items"]).startswith(
        newest.astimezone(SITE.tz).strftime("%Y-%m-%dT%H:%M:%S")
    )


def test_json_feed_has_the_required_fields(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    for path in feed_files(out, "feed.json"):
        data = json.loads(path.read_text("utf-8"))
        assert data["version"] == "https://jsonfeed.org/version/1.1"
        assert data["title"]
        assert data["home_page_url"] == SITE.link
        assert data["language"] == "it"
        assert data["items"]
        for item in data["items"]:
            assert item["id"].startswith("urn:uuid:")
            assert item["url"]
            assert item["content_html"]
            assert item["summary"]
            datetime.fromisoformat(item["date_published"])
            datetime.fromisoformat(item["date_modified"])
            assert item["authors"] and all(a["name"] for a in item["authors"])
    estate = next(
        i for i in json.loads((out / "feed.json").read_bytes())["items"] if "estate" in i["url"]
    )
    assert estate["image"] == "https://po.example.it/immagini/estate.jpg"
    assert estate["tags"] == ["Ambiente"]
    assert "ciò" in estate["title"]


def test_second_build_writes_nothing_and_moves_no_mtime(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    before = snapshot(out)
    report = build(filled, out, SITE)
    assert report.written == []
    # Every file and its .gz twin, untouched.
    assert len(report.unchanged) * 2 == len(before)
    assert snapshot(out) == before


def test_rendering_again_gives_identical_bytes(filled: Store, out: Path) -> None:
    """Without the fingerprints, every file is rendered again: same bytes, same mtimes."""
    build(filled, out, SITE)
    before = snapshot(out)
    (out / STATE_FILE).unlink()
    report = build(filled, out, SITE)
    assert report.written == []
    assert snapshot(out) == before
    other = out.parent / "elsewhere"
    build(filled, other, SITE)
    assert {k: v[0] for k, v in snapshot(other).items()} == {k: v[0] for k, v in before.items()}


def test_a_file_changed_by_hand_is_rendered_again(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    original = (out / "atom.xml").read_bytes()
    (out / "atom.xml").write_bytes(b"broken")
    (out / "categoria/cronaca/rss.xml").unlink()
    report = build(filled, out, SITE)
    assert set(report.written) == {"atom.xml", "categoria/cronaca/rss.xml"}
    assert (out / "atom.xml").read_bytes() == original


def test_an_edited_article_changes_its_feeds_and_their_updated(store: Store, out: Path) -> None:
    ids = fill(store)
    build(store, out, SITE)
    before = snapshot(out)
    old_updated = reading.parsed(out / "atom.xml").feed.updated
    uid = next(a.uid for a in store.latest_articles(50) if a.guid == "treni.md")

    edited = replace(PO_DRAFTS[2], title="Treni regionali: orari nuovi già da lunedì")
    store.upsert_articles(ids[PO.name], [edited])
    report = build(store, out, SITE)

    # Treni is only in the root, Trasporti and its source feeds (no tag feed).
    assert set(report.written) == {
        *(
            f"{d}{n}"
            for d in ("", "categoria/trasporti/", "fonte/notizie-dal-po/")
            for n in ("rss.xml", "atom.xml", "feed.json")
        ),
        "index.html",
    }
    assert snapshot(out)["categoria/cronaca/rss.xml"] == before["categoria/cronaca/rss.xml"]
    atom = reading.parsed(out / "atom.xml")
    assert atom.feed.updated != old_updated
    entry = next(e for e in atom.entries if e.id == uid)
    assert entry.title == "Treni regionali: orari nuovi già da lunedì"
    assert entry.updated == atom.feed.updated
    rss = reading.parsed(out / "categoria/trasporti/rss.xml")
    assert rss.entries[0].id == uid
    assert "orari nuovi già" in (out / "index.html").read_text("utf-8")


def test_an_empty_store_gives_valid_stable_feeds(
    store: Store, out: Path, atom_schema: etree.RelaxNG
) -> None:
    report = build(store, out, SITE)
    assert set(report.written) == {
        "rss.xml",
        "atom.xml",
        "feed.json",
        "index.html",
        "opml.xml",
        "feed.xsl",
    }
    assert reading.parsed(out / "rss.xml").entries == []
    assert atom_schema.validate(etree.parse(str(out / "atom.xml"))), atom_schema.error_log
    assert json.loads((out / "feed.json").read_bytes())["items"] == []
    first = snapshot(out)
    (out / STATE_FILE).unlink()
    assert build(store, out, SITE).written == []
    assert snapshot(out) == first


def test_index_page_lists_feeds_and_latest_articles(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    page = html.fromstring((out / "index.html").read_bytes())
    assert page.get("lang") == "it"
    alternates = {
        (link.get("type"), link.get("href"))
        for link in xpath(page, "//head/link[@rel='alternate']")
    }
    assert alternates == {
        ("application/rss+xml", BASE + "rss.xml"),
        ("application/atom+xml", BASE + "atom.xml"),
        ("application/feed+json", BASE + "feed.json"),
    }
    hrefs = set(xpath(page, "//a/@href"))
    for folder in ("categoria/cronaca", "fonte/notizie-dal-po", "tag/universita"):
        for name in ("rss.xml", "atom.xml", "feed.json"):
            assert f"{BASE}{folder}/{name}" in hrefs
    text = "".join(str(t) for t in page.itertext())
    assert "Ultimi articoli" in text
    assert "Un'estate più calda: ciò che dicono i dati" in text
    assert "31 marzo 2025, 08:15" in text
    assert xpath(page, "//meta[@name='viewport']")


def test_opml_lists_every_feed(filled: Store, out: Path) -> None:
    report = build(filled, out, SITE)
    opml = etree.parse(str(out / "opml.xml"))
    urls = set(xpath(opml, "//outline/@xmlUrl"))
    assert urls == {BASE + f.rss_path for f in report.feeds}
    assert all(o.get("type") == "rss" for o in xpath(opml, "//outline[@xmlUrl]"))


def test_an_unwritable_output_is_one_clear_sentence(filled: Store, out: Path) -> None:
    build(filled, out, SITE)
    shutil.rmtree(out / "categoria")
    (out / "categoria").write_text("in the way")
    (out / STATE_FILE).unlink()
    with pytest.raises(FeedError) as caught:
        build(filled, out, SITE)
    message = caught.value.message
    assert message.startswith(f"output.dir {out}: cannot write categoria/")
    assert message.endswith("Not a directory")
    assert str(caught.value) == message


def test_an_output_folder_that_is_a_file_is_reported(filled: Store, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(FeedError, match=r"^output\.dir .*/file: cannot create the folder"):
        build(filled, target, SITE)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_output_folder_is_reported(filled: Store, out: Path) -> None:
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(FeedError, match="Permission denied"):
            build(filled, out, SITE)
    finally:
        out.chmod(0o755)
