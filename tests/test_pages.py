"""Article and section pages, sitemaps and robots.txt (`feeds.pages`, `feeds.sitebuild`),
built from a real store into a real folder and read back as a crawler would."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

import feedparser
import pytest
from babel.dates import format_datetime
from lxml import etree, html

from db.blocked import set_hidden
from db.records import ArticleDraft, SourceSpec, StoredArticle, TopicDef
from db.store import Store
from feeds.build import BuildReport
from feeds.common import local
from feeds.pages import DATE_PATTERN, italian_datetime
from feeds.site import SiteInfo
from feeds.sitebuild import PAGES_STATE
from feeds.sitemaps import MAX_URLS
from tests import factories
from tests.factories import build_with_pages, contents
from tests.old_rows import insert_old_articles, old_database

BASE = "https://notizie.example.it/"
SITE = SiteInfo(
    title="Rassegna di prova",
    link="https://notizie.example.it/",
    base_url=BASE,
    description="Notizie italiane raccolte per i test",
    section_page_size=2,
    section_pages=3,
)
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
REDAZIONE = SourceSpec(name="Redazione", kind="files", location="/tmp/redazione")
LAGO = SourceSpec(name="Eco del Lago", kind="feed", location="https://lago.example.it/feed")


def _draft(guid: str, title: str, hours_ago: float, **fields: Any) -> ArticleDraft:
    values: dict[str, Any] = {
        "summary": f"In breve: {title.lower()}.",
        "published": NOW - timedelta(hours=hours_ago),
        "slug": re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"),
        "category": "Cronaca",
    }
    values.update(fields)
    body = f"{title}: la notizia raccontata per intero, con i dettagli."
    return factories.draft(guid, title, body, **values)


LOCAL = [
    _draft(
        "ponte.md",
        "Il ponte sul fiume riapre",
        60,
        authors=("Anna Bianchi",),
        tags=("Trasporti", "Fiume"),
        image_url="https://foto.example.it/ponte.jpg",
    ),
    _draft("mercato.md", "Il mercato cambia giorno", 30, tags=("Trasporti",)),
    _draft("scuole.md", "Scuole, nuovi orari", 20, category="Scuola", tags=("Fiume",)),
    _draft("teatro.md", "Il teatro riapre a marzo", 10, category=None),
    _draft("piazza.md", "Una piazza per tutti", 5, authors=("Anna Bianchi", "Luca Neri")),
]
REMOTE = [
    _draft(
        "lago-1",
        "Festa sul lago",
        8,
        url="https://lago.example.it/festa",
        category="Eventi",
    ),
]


def _fill(store: Store) -> dict[str, int]:
    ids = {}
    ids["local"] = store.ensure_source(REDAZIONE)
    store.upsert_articles(ids["local"], LOCAL)
    ids["remote"] = store.ensure_source(LAGO)
    store.upsert_articles(ids["remote"], REMOTE)
    return ids


def _build(
    store: Store, out: Path, site: SiteInfo = SITE, sitemap_urls: int = MAX_URLS
) -> BuildReport:
    return build_with_pages(store, out, site, NOW, sitemap_urls)


def _articles(store: Store) -> dict[str, StoredArticle]:
    return {a.guid: a for a in store.latest_articles(100)}


def _page_file(out: Path, article: StoredArticle) -> Path:
    return out / article.page_path / "index.html"


@pytest.fixture
def filled(store: Store) -> Store:
    _fill(store)
    return store


# -- addresses ------------------------------------------------------------------------------


def test_addresses_are_minted_once_and_survive_edits(any_store: Store) -> None:
    source = any_store.ensure_source(REDAZIONE)
    other = any_store.ensure_source(replace(REDAZIONE, name="Altra", location="/tmp/altra"))
    first = _draft("a.md", "Il ponte riapre", 2, published=datetime(2026, 3, 9, 23, 30, tzinfo=UTC))
    any_store.upsert_articles(source, [first])
    # The same slug in the same month from another section: a suffix, not a clash.
    twin = _draft("b.md", "Il ponte riapre", 2, published=datetime(2026, 3, 20, tzinfo=UTC))
    any_store.upsert_articles(other, [twin, replace(twin, guid="c.md", category="Altro")])
    stored = _articles(any_store)
    assert stored["a.md"].page_path == "articoli/2026/03/il-ponte-riapre"
    assert {stored["b.md"].page_path, stored["c.md"].page_path} == {
        "articoli/2026/03/il-ponte-riapre-2",
        "articoli/2026/03/il-ponte-riapre-3",
    }
    any_store.upsert_articles(source, [replace(first, title="Il ponte non riapre più", slug="x")])
    edited = _articles(any_store)["a.md"]
    assert edited.title == "Il ponte non riapre più"
    assert edited.page_path == "articoli/2026/03/il-ponte-riapre"


def test_an_address_takes_its_month_in_the_site_time_zone(sqlite_url: str) -> None:
    # 23:30 UTC on 31 December is already 1 January in Rome: the reader's date.
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    rome = Store.open(sqlite_url, page_timezone="Europe/Rome")
    try:
        source = rome.ensure_source(REDAZIONE)
        rome.upsert_articles(source, [_draft("notte.md", "Capodanno in piazza", 0, published=late)])
        # The same moment a month earlier (30 November, 23:30 UTC) is 1 December in Rome.
        november = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
        rome.upsert_articles(source, [_draft("fiera.md", "Fiera d'inverno", 0, published=november)])
        stored = _articles(rome)
    finally:
        rome.close()
    assert stored["notte.md"].page_path == "articoli/2027/01/capodanno-in-piazza"
    assert stored["fiera.md"].page_path == "articoli/2026/12/fiera-d-inverno"
    assert stored["notte.md"].published == late  # only the address moves, not the date


def test_upgrade_back_fills_page_addresses(bare_url: str) -> None:
    engine, tables = old_database(bare_url, "0009")
    assert "page_path" not in tables["articles"].c
    when = datetime(2025, 11, 2, 8, 0, tzinfo=UTC)
    articles = [
        {"guid": f"g-{n}", "title": "Piano dei trasporti", "slug": slug}
        for n, slug in ((1, "piano"), (2, "piano"), (3, ""))
    ]
    with engine.begin() as connection:
        source_id = insert_old_articles(
            connection,
            tables,
            when,
            articles,
            name="Redazione",
            slug="redazione",
            kind="files",
            location="/tmp/r",
        )
    engine.dispose()
    store = Store.open(bare_url)
    try:
        paths = {a.guid: a.page_path for a in store.latest_articles(10)}
        assert paths == {
            "g-1": "articoli/2025/11/piano",
            "g-2": "articoli/2025/11/piano-2",
            "g-3": "articoli/2025/11/articolo",
        }
        # New articles keep clear of the back-filled addresses.
        store.upsert_articles(source_id, [_draft("g-4", "Piano", 1, slug="piano", published=when)])
        assert _articles(store)["g-4"].page_path == "articoli/2025/11/piano-3"
    finally:
        store.close()


# -- feeds and pages --------------------------------------------------------------------------


def test_feed_items_lead_to_pages_or_originals(filled: Store, out: Path) -> None:
    _build(filled, out)
    stored = _articles(filled)
    expected = {a.uid: (a.url or f"{BASE}{a.page_path}/") for a in stored.values()}
    rss = feedparser.parse((out / "rss.xml").read_bytes())
    atom = feedparser.parse((out / "atom.xml").read_bytes())
    items = json.loads((out / "feed.json").read_bytes())["items"]
    assert {e.id: e.link for e in rss.entries} == expected
    assert {e.id: e.link for e in atom.entries} == expected
    assert {i["id"]: i["url"] for i in items} == expected
    for article in stored.values():
        link = expected[article.uid]
        assert link != SITE.link
        if article.url is None:
            assert _page_file(out, article).is_file()
    # Remote articles get no page by default.
    assert not _page_file(out, stored["lago-1"]).exists()


def xp(node: Any, expr: str, **namespaces: Any) -> list[Any]:
    """`node.xpath(expr)` as the list it is for these expressions (lxml types it wider)."""
    found = node.xpath(expr, **namespaces)
    assert isinstance(found, list)
    return found


def _meta(page: html.HtmlElement, prop: str) -> list[str]:
    return [m.get("content") for m in xp(page, f"//meta[@property='{prop}' or @name='{prop}']")]


def test_article_page_says_what_people_and_robots_need(filled: Store, out: Path) -> None:
    _build(filled, out)
    ponte = _articles(filled)["ponte.md"]
    url = f"{BASE}{ponte.page_path}/"
    page = html.fromstring(_page_file(out, ponte).read_bytes())
    assert page.get("lang") == "it"
    assert page.findtext(".//title") == "Il ponte sul fiume riapre – Rassegna di prova"
    assert xp(page, "//link[@rel='canonical']/@href") == [url]
    assert _meta(page, "description") == ["In breve: il ponte sul fiume riapre."]
    alternates = xp(page, "//link[@rel='alternate']/@href")
    assert f"{BASE}rss.xml" in alternates
    assert f"{BASE}categoria/cronaca/atom.xml" in alternates
    for prop, value in (
        ("og:type", "article"),
        ("og:title", "Il ponte sul fiume riapre"),
        ("og:url", url),
        ("og:locale", "it_IT"),
        ("og:image", "https://foto.example.it/ponte.jpg"),
        ("article:section", "Cronaca"),
        ("twitter:card", "summary_large_image"),
    ):
        assert _meta(page, prop) == [value], prop
    assert sorted(_meta(page, "article:tag")) == ["Fiume", "Trasporti"]
    assert _meta(page, "og:description") == ["In breve: il ponte sul fiume riapre."]
    assert _meta(page, "article:published_time") == ["2026-12-04T01:00:00+01:00"]
    assert _meta(page, "article:modified_time") == ["2026-12-04T01:00:00+01:00"]

    (script,) = xp(page, "//script[@type='application/ld+json']/text()")
    data = json.loads(script)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == "Il ponte sul fiume riapre"
    assert data["description"] == "In breve: il ponte sul fiume riapre."
    assert data["datePublished"] == "2026-12-04T01:00:00+01:00"
    assert data["dateModified"] == "2026-12-04T01:00:00+01:00"
    assert data["author"] == [{"@type": "Person", "name": "Anna Bianchi"}]
    assert data["image"] == ["https://foto.example.it/ponte.jpg"]
    assert data["publisher"]["name"] == "Rassegna di prova"
    assert data["inLanguage"] == "it"
    assert data["mainEntityOfPage"]["@id"] == url

    (article,) = xp(page, "//main//article")
    assert article.findtext(".//h1") == "Il ponte sul fiume riapre"
    (time,) = xp(article, ".//header//time")
    assert time.get("datetime") == "2026-12-04T01:00:00+01:00"
    assert time.text == "4 dicembre 2026, 01:00"
    assert "la notizia raccontata per intero" in "".join(
        xp(article, ".//div[@class='body']//text()")
    )
    (img,) = xp(article, ".//img")
    assert img.get("alt")
    tags = {a.text: a.get("href") for a in xp(article, ".//footer//a")}
    assert tags == {
        "Trasporti": f"{BASE}tag/trasporti/",
        "Fiume": f"{BASE}tag/fiume/",
    }
    # The next article of its category links forward; it is the first, so none before it.
    assert xp(page, "//a[@rel='prev']") == []
    (following,) = xp(page, "//a[@rel='next']")
    assert following.text == "Il mercato cambia giorno"


def test_an_edit_shows_its_update_and_keeps_the_address(filled: Store, out: Path) -> None:
    _build(filled, out)
    ponte = _articles(filled)["ponte.md"]
    source = filled.ensure_source(REDAZIONE)
    later = NOW - timedelta(hours=1)
    filled.upsert_articles(
        source, [replace(LOCAL[0], title="Il ponte sul fiume riapre a metà", updated=later)]
    )
    report = _build(filled, out)
    assert f"{ponte.page_path}/index.html" in report.written
    page = html.fromstring(_page_file(out, ponte).read_bytes())
    assert page.findtext(".//h1") == "Il ponte sul fiume riapre a metà"
    times = xp(page, "//article/header//time")
    assert [t.text for t in times] == [
        "4 dicembre 2026, 01:00",
        italian_datetime(later, SITE),
    ]
    assert times[1].text == "6 dicembre 2026, 12:00"


@pytest.mark.parametrize("zone", ["Europe/Rome", "UTC", "America/St_Johns", "Asia/Kathmandu"])
def test_italian_dates_are_babels(zone: str) -> None:
    # `italian_datetime` spells out Babel's pattern: every day of three years (leap day,
    # daylight saving changes) at hours and minutes that move across them, and a year
    # before 1000, against Babel's own formatting.
    site = replace(SITE, timezone=zone)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(days=d, minutes=97 * d) for d in range(3 * 366)]
    moments += [datetime(987, 3, 5, 7, 9, tzinfo=UTC), datetime(2026, 12, 6, 8, 48, 59)]
    for moment in moments:
        shown = local(moment, site.tz)
        babel = format_datetime(shown, DATE_PATTERN, locale="it_IT")
        assert italian_datetime(moment, site) == babel


def test_excerpt_pages_of_remote_articles(filled: Store, out: Path) -> None:
    site = replace(SITE, remote_pages="excerpt")
    _build(filled, out, site)
    lago = _articles(filled)["lago-1"]
    page = html.fromstring(_page_file(out, lago).read_bytes())
    assert xp(page, "//link[@rel='canonical']/@href") == ["https://lago.example.it/festa"]
    assert _meta(page, "robots") == ["noindex"]
    assert xp(page, "//p[@class='original']/a/@href") == ["https://lago.example.it/festa"]
    assert xp(page, "//div[@class='body']") == []
    # Feeds still lead to the original, and the sitemap leaves the excerpt out.
    rss = feedparser.parse((out / "rss.xml").read_bytes())
    assert next(e for e in rss.entries if e.id == lago.uid).link == "https://lago.example.it/festa"
    assert lago.page_path not in (out / "sitemap.xml").read_text("utf-8")
    # Back to "none": the excerpt page goes, with its gzip twin and emptied folders.
    report = _build(filled, out, SITE)
    assert f"{lago.page_path}/index.html" in report.removed
    assert not (out / lago.page_path).exists()


# -- the whole site as a crawler sees it ---------------------------------------------------


def _local(out: Path, href: str) -> Path | None:
    """The file an internal URL names, or None for an external one."""
    href = urldefrag(href)[0]
    if not href.startswith(BASE):
        return None
    relative = href.removeprefix(BASE)
    if relative == "" or relative.endswith("/"):
        relative += "index.html"
    return out / relative


def crawl(out: Path) -> set[Path]:
    """Every HTML page reachable from index.html; asserts that every internal href and
    src of each resolves to a file."""
    seen: set[Path] = set()
    todo = [out / "index.html"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        page = html.fromstring(path.read_bytes())
        for link in xp(page, "//@href | //@src"):
            target = _local(out, link)
            if target is None:
                continue
            assert target.is_file(), f"{path.relative_to(out)} links to missing {link}"
            if target.suffix == ".html":
                todo.append(target)
    return seen


def test_every_article_is_reachable_from_the_home_page(filled: Store, out: Path) -> None:
    # More articles than one section page holds, so paging and chains are walked too.
    source = filled.ensure_source(REDAZIONE)
    filled.upsert_articles(
        source,
        [_draft(f"extra-{n}.md", f"Notizia breve numero {n}", 40 + n) for n in range(9)],
    )
    _build(filled, out)
    reached = crawl(out)
    for article in _articles(filled).values():
        if article.url is None:
            assert _page_file(out, article) in reached, article.title
    assert (out / "categoria/cronaca/pagina/2/index.html") in reached
    assert (out / "categoria/cronaca/pagina/3/index.html") in reached
    # Three pages at most: older articles are reached through their neighbours.
    assert not (out / "categoria/cronaca/pagina/4").exists()
    # Every page names itself, once, as canonical.
    for path in reached:
        page = html.fromstring(path.read_bytes())
        assert len(xp(page, "//link[@rel='canonical']")) == 1, path


def test_section_pages_list_page_and_link_their_feeds(filled: Store, out: Path) -> None:
    _build(filled, out)
    page = html.fromstring((out / "categoria/cronaca/index.html").read_bytes())
    titles = xp(page, "//ul[@class='article-list']//h2/a/text()")
    assert titles == ["Una piazza per tutti", "Il mercato cambia giorno"]
    crumbs = xp(page, "//nav[@class='breadcrumbs']//li")
    assert [c.text_content() for c in crumbs] == ["Home", "Categoria: Cronaca"]
    assert xp(page, "//a[@rel='next']/@href") == [f"{BASE}categoria/cronaca/pagina/2/"]
    second = html.fromstring((out / "categoria/cronaca/pagina/2/index.html").read_bytes())
    assert xp(second, "//ul[@class='article-list']//h2/a/text()") == ["Il ponte sul fiume riapre"]
    assert xp(second, "//a[@rel='prev']/@href") == [f"{BASE}categoria/cronaca/"]
    for folder in ("fonte/redazione", "tag/trasporti", "categoria/scuola", "fonte/eco-del-lago"):
        assert (out / folder / "index.html").is_file(), folder
    # An author with one article has no feed, so no page: the byline is plain text.
    assert not (out / "autore").exists()


# -- sitemaps -------------------------------------------------------------------------------


@pytest.fixture
def schema(data_dir: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(data_dir / "sitemap.xsd")))


_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def _sitemap_urls(out: Path, schema: etree.XMLSchema) -> dict[str, str]:
    """Every (loc, lastmod) that `sitemap.xml` and its parts list, each file validated."""
    index = etree.parse(str(out / "sitemap.xml"))
    assert schema.validate(index), schema.error_log
    locs: dict[str, str] = {}
    for part in xp(index, "//s:sitemap/s:loc/text()", namespaces=_NS):
        document = etree.parse(str(out / part.removeprefix(BASE)))
        assert schema.validate(document), schema.error_log
        pairs = zip(
            xp(document, "//s:url/s:loc/text()", namespaces=_NS),
            xp(document, "//s:url/s:lastmod/text()", namespaces=_NS),
            strict=True,
        )
        for loc, lastmod in pairs:
            assert loc not in locs
            locs[loc] = lastmod
    return locs


def test_sitemaps_are_valid_and_complete(filled: Store, out: Path, schema: etree.XMLSchema) -> None:
    _build(filled, out)
    stored = _articles(filled)
    locs = _sitemap_urls(out, schema)
    for article in stored.values():
        if article.url is None:
            assert (
                locs[f"{BASE}{article.page_path}/"]
                == article.updated.astimezone(SITE.tz).isoformat()
            )
    assert BASE in locs
    assert f"{BASE}categoria/cronaca/" in locs
    ns = _NS

    news = etree.parse(str(out / "sitemap-news.xml"))
    assert schema.validate(news), schema.error_log
    nsn = {**ns, "n": "http://www.google.com/schemas/sitemap-news/0.9"}
    # The last 48 hours only: "ponte" (60 h old) is out; remote articles have no page.
    assert sorted(xp(news, "//n:title/text()", namespaces=nsn)) == sorted(
        a.title for a in stored.values() if a.url is None and a.guid != "ponte.md"
    )
    assert set(xp(news, "//n:language/text()", namespaces=nsn)) == {"it"}
    assert set(xp(news, "//n:name/text()", namespaces=nsn)) == {"Rassegna di prova"}
    robots = (out / "robots.txt").read_text("utf-8")
    assert f"Sitemap: {BASE}sitemap.xml" in robots
    assert f"Sitemap: {BASE}sitemap-news.xml" in robots


def test_the_schema_rejects_a_broken_sitemap(schema: etree.XMLSchema) -> None:
    broken = etree.fromstring(
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        b' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url>'
        b"<loc>https://a.example.it/x</loc><news:news><news:publication><news:name>A"
        b"</news:name><news:language>italiano</news:language></news:publication>"
        b"<news:publication_date>2026-12-06T10:00:00+01:00</news:publication_date>"
        b"</news:news></url></urlset>"
    )
    assert not schema.validate(broken)


def test_sitemap_parts_split_past_the_limit(
    filled: Store, out: Path, schema: etree.XMLSchema
) -> None:
    whole = _build(filled, out)
    assert {"sitemap-pagine.xml", "sitemap-2026-12.xml"} <= set(whole.written)
    listed = _sitemap_urls(out, schema)
    report = _build(filled, out, sitemap_urls=2)
    # Five article pages, all of December 2026: three parts of that month.
    months = [f"sitemap-2026-12-{n}.xml" for n in (1, 2, 3)]
    assert set(months) <= set(report.written)
    assert "sitemap-2026-12.xml" in report.removed
    assert _sitemap_urls(out, schema) == listed
    index = etree.parse(str(out / "sitemap.xml"))
    parts = xp(index, "//s:sitemap/s:loc/text()", namespaces=_NS)
    assert parts[0] == f"{BASE}sitemap-pagine-1.xml"
    assert parts[-3:] == [f"{BASE}{name}" for name in months]
    # Back under the limit: the numbered parts are removed.
    report = _build(filled, out)
    assert "sitemap-2026-12-1.xml" in report.removed
    assert not (out / "sitemap-2026-12-1.xml").exists()
    assert _sitemap_urls(out, schema) == listed


# -- publishing -----------------------------------------------------------------------------


def test_rebuilds_are_byte_identical_and_write_nothing(filled: Store, out: Path) -> None:
    _build(filled, out)
    first = contents(out)
    assert any(name.endswith("index.html.gz") for name in first)
    again = _build(filled, out)
    assert again.written == []
    shutil.rmtree(out)
    _build(filled, out)
    assert contents(out) == first


def test_one_new_article_rewrites_only_what_shows_it(filled: Store, out: Path) -> None:
    _build(filled, out)
    before = _articles(filled)
    source = filled.ensure_source(REDAZIONE)
    new = _draft("nuovo.md", "Nuova pista ciclabile", 1, category="Scuola", tags=("Fiume",))
    filled.upsert_articles(source, [new])
    report = _build(filled, out)
    added = _articles(filled)["nuovo.md"]
    written = {p for p in report.written if not p.endswith((".xml", ".json"))}
    assert written == {
        "index.html",
        f"{added.page_path}/index.html",
        # Its neighbour in Scuola now links forward to it.
        f"{before['scuole.md'].page_path}/index.html",
        "categoria/scuola/index.html",
        "fonte/redazione/index.html",
        "fonte/redazione/pagina/2/index.html",
        "fonte/redazione/pagina/3/index.html",
        "tag/fiume/index.html",
        "tag/fiume/pagina/2/index.html",
    }
    assert {"sitemap.xml", "sitemap-news.xml"} <= set(report.written)
    assert f"sitemap-{added.page_path.split('/')[1]}-{added.page_path.split('/')[2]}.xml" in (
        report.written
    )
    assert "robots.txt" not in report.written
    # Only the new article and its neighbours were looked at, not every page of the store,
    # nor the section pages it is not listed in.
    looked_at = [p for p in report.unchanged if p.startswith("articoli/")]
    assert len(looked_at) <= 2
    pages = report.unchanged + report.written
    assert not [p for p in pages if p.startswith("categoria/cronaca/") and p.endswith(".html")]


def _same_as_from_scratch(store: Store, out: Path, fresh: Path, site: SiteInfo = SITE) -> None:
    """`out`, built incrementally, holds the same files as a first build into `fresh`."""
    shutil.rmtree(fresh, ignore_errors=True)
    _build(store, fresh, site)
    ignored = [f"--exclude={name}" for name in factories.STATE_FILES]
    ignored.append(f"--exclude={factories.PAGES_SHARDS}*")
    diff = subprocess.run(
        ["diff", "-r", *ignored, str(out), str(fresh)], capture_output=True, text=True, check=False
    )
    assert diff.returncode == 0, diff.stdout


def test_incremental_builds_equal_builds_from_scratch(
    any_store: Store, out: Path, tmp_path: Path
) -> None:
    filled = any_store
    _fill(filled)
    fresh = tmp_path / "fresh"
    # An older month, whose sitemap part the incremental builds keep as it is.
    october = _draft("ottobre.md", "Archivio di ottobre", 24 * 50, category="Scuola")
    filled.upsert_articles(filled.ensure_source(REDAZIONE), [october])
    _build(filled, out)
    assert (out / "sitemap-2026-10.xml").is_file()
    source = filled.ensure_source(REDAZIONE)
    # One in the middle of a chain (both neighbours change), one at its end.
    middle = _draft("mezzo.md", "Cantiere in centro", 25, tags=("Fiume",), authors=("Luca Neri",))
    filled.upsert_articles(source, [middle, _draft("ultimo.md", "Piove ancora", 1)])
    october_state = out / f"{factories.PAGES_SHARDS}2026-10.json"
    written_at = october_state.stat().st_mtime_ns
    report = _build(filled, out)
    # Neither October's sitemap part nor its page states were read again or rewritten.
    assert "sitemap-2026-10.xml" not in report.written + report.unchanged
    assert october_state.stat().st_mtime_ns == written_at
    _same_as_from_scratch(filled, out, fresh)
    # An edit dated by its source, older than the newest article's date, is seen too.
    ponte = replace(LOCAL[0], title="Il ponte riapre di sera", updated=NOW - timedelta(hours=50))
    filled.upsert_articles(source, [ponte])
    _build(filled, out)
    assert "riapre di sera" in (
        out / _articles(filled)["ponte.md"].page_path / "index.html"
    ).read_text("utf-8")
    _same_as_from_scratch(filled, out, fresh)
    mercato = _articles(filled)["mercato.md"]
    assert set_hidden(filled.engine, [mercato.id], True) == 1
    _build(filled, out)
    assert not (out / mercato.page_path).exists()
    _same_as_from_scratch(filled, out, fresh)
    assert set_hidden(filled.engine, [mercato.id], False) == 1
    filled.upsert_articles(source, [_draft("dopo.md", "Nuovo orario dei bus", 2)])
    _build(filled, out)
    _same_as_from_scratch(filled, out, fresh)
    assert filled.prune(older_than=NOW - timedelta(hours=40)) >= 1
    _build(filled, out)
    _same_as_from_scratch(filled, out, fresh)
    # An edit of a known article is seen too.
    edited = replace(LOCAL[1], title="Il mercato cambia giorno e piazza")
    filled.upsert_articles(source, [edited])
    _build(filled, out)
    _same_as_from_scratch(filled, out, fresh)


def test_incremental_builds_follow_links_topics_and_lost_files(
    any_store: Store, out: Path, tmp_path: Path
) -> None:
    filled, fresh = any_store, tmp_path / "fresh"
    _fill(filled)
    source = filled.ensure_source(REDAZIONE)
    october = _draft("ottobre.md", "Archivio di ottobre", 24 * 50, category="Scuola")
    filled.upsert_articles(source, [october])
    filled.sync_topics([TopicDef(slug="mercati", name="Mercati", query="mercato")])
    _build(filled, out)
    # Another source, with articles of its own, carries a stored article: its page and
    # that source's section page list it.
    mercato = _articles(filled)["mercato.md"]
    lago = filled.ensure_source(LAGO)
    filled.link_article(lago, "lago-m", mercato.id, NOW, url="https://lago.example.it/mercato")
    _build(filled, out)
    assert "Eco del Lago" in _page_file(out, mercato).read_text("utf-8")
    _same_as_from_scratch(filled, out, fresh)
    # The same topic finds other stored articles.
    filled.sync_topics([TopicDef(slug="mercati", name="Mercati", query="piazza")])
    _build(filled, out)
    assert "Una piazza per tutti" in (out / "tema/mercati/index.html").read_text("utf-8")
    _same_as_from_scratch(filled, out, fresh)
    # Files deleted by hand that a new article does not touch come back with it.
    lost = [
        "categoria/cronaca/index.html",
        "categoria/cronaca/index.html.gz",
        "sitemap-2026-10.xml",
    ]
    for name in lost:
        (out / name).unlink()
    filled.upsert_articles(source, [_draft("aula.md", "Aula nuova", 2, category="Scuola")])
    report = _build(filled, out)
    assert {"categoria/cronaca/index.html", "sitemap-2026-10.xml"} <= set(report.written)
    _same_as_from_scratch(filled, out, fresh)


def test_incremental_excerpt_pages_equal_a_build_from_scratch(
    filled: Store, out: Path, tmp_path: Path
) -> None:
    site = replace(SITE, remote_pages="excerpt")
    _build(filled, out, site)
    lago = filled.ensure_source(LAGO)
    remote = _draft("lago-2", "Regata d'autunno", 3, url="https://lago.example.it/regata")
    filled.upsert_articles(lago, [replace(remote, category="Eventi")])
    report = _build(filled, out, site)
    assert len([p for p in report.unchanged if p.startswith("articoli/")]) <= 2
    _same_as_from_scratch(filled, out, tmp_path / "fresh", site)


def test_pages_of_deleted_articles_are_removed(filled: Store, out: Path) -> None:
    foreign = out / "articoli" / "mio.html"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("non nostro", encoding="utf-8")
    _build(filled, out)
    teatro = _articles(filled)["teatro.md"]
    assert _page_file(out, teatro).is_file()
    source = filled.ensure_source(REDAZIONE)
    assert filled.delete_source_articles(source, ["teatro.md"]) == 1
    report = _build(filled, out)
    assert f"{teatro.page_path}/index.html" in report.removed
    assert not (out / teatro.page_path).exists()
    assert foreign.read_text("utf-8") == "non nostro"
    assert (out / PAGES_STATE).is_file()
    # The only article of a category goes: its section page and folder go too.
    assert (out / "categoria/scuola/index.html").is_file()
    assert filled.delete_source_articles(source, ["scuole.md"]) == 1
    report = _build(filled, out)
    assert "categoria/scuola/index.html" in report.removed
    assert not (out / "categoria" / "scuola").exists()


def test_templates_can_be_replaced_by_name(filled: Store, out: Path, tmp_path: Path) -> None:
    _build(filled, out)
    folder = tmp_path / "modelli"
    folder.mkdir()
    (folder / "style.css").write_text("body { font-family: serif; }\n", encoding="utf-8")
    site = replace(SITE, templates=str(folder))
    report = _build(filled, out, site)
    pages = [p for p in report.written if p.endswith("index.html")]
    # Every page is rendered again once, with the newsroom's style.
    assert len(pages) == len(list(out.rglob("index.html")))
    assert "font-family: serif" in _page_file(out, _articles(filled)["ponte.md"]).read_text("utf-8")
    assert _build(filled, out, site).written == []


def test_other_sources_and_topics_appear_on_the_page(filled: Store, out: Path) -> None:
    _build(filled, out)
    mercato = _articles(filled)["mercato.md"]
    before = _page_file(out, mercato).read_bytes()
    radio = filled.ensure_source(SourceSpec(name="Radio Valle", kind="feed", location="r"))
    filled.link_article(radio, "r-1", mercato.id, NOW, url="https://radio.example.it/mercato")
    filled.sync_topics([TopicDef(slug="mercati", name="Mercati", query="mercato")])
    report = _build(filled, out)
    # A new source of the story and a new topic change the page, and only such pages.
    assert f"{mercato.page_path}/index.html" in report.written
    assert f"{_articles(filled)['teatro.md'].page_path}/index.html" not in report.written
    after = _page_file(out, mercato).read_bytes()
    assert after != before
    page = html.fromstring(after)
    also = xp(page, "//p[starts-with(., 'Anche su')]/a")
    assert [(a.text, a.get("href")) for a in also] == [
        ("Radio Valle", "https://radio.example.it/mercato")
    ]
    topics = xp(page, "//footer[@class='labels']//a[contains(@href, '/tema/')]")
    assert [(a.text, a.get("href")) for a in topics] == [("Mercati", f"{BASE}tema/mercati/")]
    assert (out / "tema/mercati/index.html").is_file()


@pytest.mark.parametrize("image", ["file:///srv/rassegna/entrata/foto.jpg", "foto/ponte.jpg"])
def test_an_image_that_is_not_a_web_url_is_not_published(
    store: Store, out: Path, image: str
) -> None:
    source = store.ensure_source(REDAZIONE)
    store.upsert_articles(source, [_draft("diga.md", "La diga chiude", 3, image_url=image)])
    _build(store, out)
    diga = _articles(store)["diga.md"]
    assert diga.image_url == image
    text = _page_file(out, diga).read_text("utf-8")
    page = html.fromstring(text)
    assert _meta(page, "og:image") == []
    assert _meta(page, "twitter:image") == []
    assert _meta(page, "twitter:card") == ["summary"]
    assert xp(page, "//img") == []
    (script,) = xp(page, "//script[@type='application/ld+json']/text()")
    assert "image" not in json.loads(script)
    # Not anywhere else either: the sitemaps and the other pages.
    for written in out.rglob("*"):
        if written.is_file():
            assert image not in written.read_text("utf-8", errors="replace"), written
