"""Every kind of page the build publishes, checked by real tools over real HTTP (rassegna's
own server on loopback): the Nu HTML Checker finds 0 errors, axe-core in headless
Chromium finds 0 WCAG 2.1 AA violations at 1280 and 390 px in light and dark colour
schemes. Pages: article (a newsroom article and a remote article's excerpt page), each
kind of section and its paging, home, the search page (/ricerca, with and without
results, refused), and the browser view of the feeds (feed.xsl, on its rendered DOM).

Screenshots of every view go to var/screenshots/ (or $RASSEGNA_SCREENSHOTS), named after
the page, width and scheme: look at them after a change of the pages.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from slugify import slugify

from db.records import ArticleDraft, SourceSpec, TopicDef
from db.store import Store
from feeds.build import build_feeds
from feeds.sitebuild import build_pages
from rassegna.search import SearchFeed
from rassegna.server import create_app
from tests.conformance import (
    WIDTHS,
    AxeResult,
    VnuMessage,
    axe_check,
    missing_tools,
    png_summary,
    vnu_errors_in,
)
from tests.conftest import free_port, serving
from tests.factories import draft
from tests.published import fill
from tests.published import site as site_settings

MISSING = missing_tools()
pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
    pytest.mark.slow,
]
REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("RASSEGNA_SCREENSHOTS") or REPO / "var" / "screenshots")
# Path segments that name a kind of page; any other segment is a slug, a year, a number.
STRUCTURE = {"categoria", "fonte", "tag", "tema", "autore", "articoli", "pagina", "archivio"}
# The browser view of the feeds: the site's and a section's, in both formats.
FEEDS = ("rss.xml", "atom.xml", "categoria/cronaca/rss.xml", "categoria/cronaca/atom.xml")
# The search page for people (served by the daemon, not written): with results, with none,
# the bare form, and a query it refuses (400, with the reason on the page).
SEARCHES = {
    "ricerca?q=pontile": 200,
    "ricerca?q=zanzibar": 200,
    "ricerca": 200,
    "ricerca?q=%22": 400,
}
# A page axe must fault (grey text on white), so that a silent axe fails this test.
BAD_PAGE = (
    '<!DOCTYPE html><html lang="it"><title>Prova</title>'
    '<p style="color:#aaa;background:#fff">Testo troppo chiaro</p></html>'
)


# The newsroom's own articles (no URL of their own): they get article pages.
LOCAL_SOURCE = SourceSpec(name="Redazione del Lago", kind="files", location="/tmp/redazione")
LOCAL_TITLES = (
    "Il nuovo pontile di Sarnico apre a maggio",
    "Biblioteca civica: orari più lunghi d'estate",
    "Concerto all'aperto sul lungolago, ecco il programma",
    "Mercato contadino: da sabato in piazza Garibaldi",
    "Le scuole dell'alto lago tornano in rete",
    "Una mostra racconta i pescatori di un tempo",
)
NOW = datetime(2025, 4, 1, 12, tzinfo=UTC)
# A configured topic, so `tema/<slug>/` pages (and their paging) are checked too; its
# description carries an apostrophe and accents like the rest of the site.
TOPIC = TopicDef(
    slug="lungolago",
    name="Vita sul lago",
    query="lago",
    description="Tutto ciò che succede sull'acqua e lungo le rive",
)


def png(width: int, height: int) -> bytes:
    """A plain lake-blue RGB PNG of that size (the lead image of an article)."""
    row = b"\x00" + bytes((40, 110, 160)) * width

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def local_drafts(base: str) -> list[ArticleDraft]:
    drafts = []
    for n, title in enumerate(LOCAL_TITLES):
        text = (
            f"{title}. Il Comune ha presentato il progetto giovedì sera, davanti a "
            "un pubblico numeroso e con molte domande sui tempi e sui costi."
        )
        drafts.append(
            draft(
                f"redazione-{n}.md",
                title,
                text,
                summary=f"Che cosa cambia: {title[0].lower()}{title[1:]}.",
                content_html=f"<p>{text}</p><h2>I dettagli</h2><p>Più corse, più orari.</p>",
                published=NOW - timedelta(hours=5 * n + 1),
                authors=("Marta Rossi",) if n % 2 else ("Marta Rossi", "Luca Verdi"),
                category="Cultura" if n % 2 else "Cronaca",
                tags=("Lago", "Scuola") if n % 3 == 0 else ("Lago",),
                slug=slugify(title),
                image_url=base + "immagini/pontile.png" if n == 0 else None,
            )
        )
    return drafts


def page_type(relative: str) -> str:
    """`categoria/cronaca/pagina/2/index.html` -> `categoria/*/pagina/*/index.html`."""
    parts = relative.split("/")
    return "/".join(p if p in STRUCTURE or p == parts[-1] else "*" for p in parts)


def page_types(out: Path) -> dict[str, str]:
    """One published HTML page of each kind (the first by path), by kind."""
    found: dict[str, str] = {}
    for path in sorted(out.rglob("*.html")):
        relative = path.relative_to(out).as_posix()
        found.setdefault(page_type(relative), relative)
    return found


def representatives(out: Path) -> list[str]:
    """One page of each kind, plus the page of a newsroom article (the first article page
    by path may be a remote article's excerpt page)."""
    pages = [p for p in page_types(out).values() if p != "prova-contrasto.html"]
    slug = slugify(LOCAL_TITLES[0])
    own = next(
        p.relative_to(out).as_posix()
        for p in sorted(out.glob("articoli/**/index.html"))
        if p.parent.name == slug
    )
    return pages + ([own] if own not in pages else [])


def page_url(base: str, relative: str) -> str:
    """The URL people use for a page: its folder for an index.html."""
    return base + relative.removesuffix("index.html")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("conformance")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    out = tmp / "public"
    store = Store.open(f"sqlite:///{tmp / 'r.db'}")
    try:
        # Topics are matched as articles are stored: configured first, as the daemon does.
        store.sync_topics([TOPIC])
        fill(store)
        store.upsert_articles(store.ensure_source(LOCAL_SOURCE), local_drafts(base))
        settings = site_settings(
            base,
            author_feeds=True,
            remote_pages="excerpt",
            section_page_size=3,
            items_per_feed=5,
        )
        feeds = build_feeds(store, settings, out, fsync=False)
        build_pages(store, settings, out, specs=feeds.feeds, fsync=False, now=NOW)
        (out / "prova-contrasto.html").write_text(BAD_PAGE, encoding="utf-8")
        (out / "immagini").mkdir()
        (out / "immagini" / "pontile.png").write_bytes(png(1200, 600))
        search = SearchFeed(store, settings)
        app = create_app(out, search=search, search_page=search.page)
        with serving(app, port):
            yield base, out
    finally:
        store.close()


@pytest.fixture(scope="module")
def views(site: tuple[str, Path]) -> dict[str, list[AxeResult]]:
    """axe's results and screenshots of one page of each kind, the feeds' browser view and
    the deliberately bad page, by URL (one Chromium for all)."""
    base, out = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    urls = [page_url(base, p) for p in representatives(out)]
    urls += [base + search for search in SEARCHES]
    urls += [base + feed for feed in FEEDS] + [base + "prova-contrasto.html"]
    results: dict[str, list[AxeResult]] = {}
    for result in axe_check(urls, screenshots=SCREENSHOTS, dom=True):
        results.setdefault(result.url, []).append(result)
    print(f"\nscreenshots in {SCREENSHOTS}")
    return results


@pytest.fixture(scope="module")
def vnu_report(
    site: tuple[str, Path], views: dict[str, list[AxeResult]]
) -> dict[str, list[VnuMessage]]:
    """The Nu HTML Checker's errors, by document, in one Java run: every published HTML
    file (by path in the output), the search pages as served (by URL path), the feeds'
    rendered browser view (by feed) and a broken document (`rotta`) that must have errors."""
    base, out = site
    documents = {
        p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(out.rglob("*.html"))
    }
    for search in SEARCHES:
        documents[search] = httpx.get(base + search).text
    for feed in FEEDS:
        html = views[base + feed][0].html
        assert html is not None, f"no rendered page for {feed}"
        documents[feed] = html
    documents["rotta"] = "<!DOCTYPE html><html><title></title><p><div></span>"
    report: dict[str, list[VnuMessage]] = {name: [] for name in documents}
    for error in vnu_errors_in(documents):
        report[error.file].append(error)
    return report


def test_page_kinds_are_found(site: tuple[str, Path]) -> None:
    _, out = site
    kinds = page_types(out)
    assert kinds["index.html"] == "index.html"
    for kind in ("categoria", "fonte", "tag", "tema", "autore"):
        assert f"{kind}/*/index.html" in kinds
        assert f"{kind}/*/pagina/*/index.html" in kinds
    assert "articoli/*/*/*/index.html" in kinds
    assert page_type("categoria/cronaca/pagina/2/index.html") == "categoria/*/pagina/*/index.html"
    assert page_type("articoli/2025/03/il-lago/index.html") == "articoli/*/*/*/index.html"


def test_every_page_passes_the_nu_html_checker(
    site: tuple[str, Path], vnu_report: dict[str, list[VnuMessage]]
) -> None:
    _, out = site
    pages = [p.relative_to(out).as_posix() for p in out.rglob("*.html")]
    assert "index.html" in pages
    errors = [str(e) for page in pages for e in vnu_report[page]]
    assert errors == [], "\n".join(errors)


def test_the_nu_html_checker_reports_errors(vnu_report: dict[str, list[VnuMessage]]) -> None:
    assert vnu_report["rotta"]


def test_no_axe_violations_on_any_kind_of_page(
    site: tuple[str, Path], views: dict[str, list[AxeResult]]
) -> None:
    base, out = site
    for relative in representatives(out):
        results = views[page_url(base, relative)]
        assert len(results) == 4  # two widths, two colour schemes
        for result in results:
            assert result.status == 200, result.url
            assert result.describe() == [], "\n".join(result.describe())


def test_axe_reports_poor_contrast(
    site: tuple[str, Path], views: dict[str, list[AxeResult]]
) -> None:
    base, _ = site
    results = views[base + "prova-contrasto.html"]
    assert results and all(any(v["id"] == "color-contrast" for v in r.violations) for r in results)


def test_screenshots_at_desktop_and_phone_widths(
    site: tuple[str, Path], views: dict[str, list[AxeResult]]
) -> None:
    base, _ = site
    for results in views.values():
        for result in results:
            assert result.screenshot is not None and result.screenshot.exists()
            assert result.screenshot.parent == SCREENSHOTS
            width, height, distinct_rows = png_summary(result.screenshot.read_bytes())
            # Full-page shots: the width is the viewport's, unless the page overflows it.
            assert width == result.width, (
                f"{result.screenshot}: the page is wider than {result.width} px"
            )
            if result.url == base:
                # The home page shows a page, not a blank: a blank one has a handful of
                # distinct pixel rows; text and lists give hundreds.
                assert distinct_rows > height // 4, f"{result.screenshot}: {distinct_rows} rows"
    assert {r.width for results in views.values() for r in results} == set(WIDTHS)


@pytest.mark.parametrize(("search", "status"), SEARCHES.items())
def test_search_page_is_clean(
    site: tuple[str, Path],
    views: dict[str, list[AxeResult]],
    vnu_report: dict[str, list[VnuMessage]],
    search: str,
    status: int,
) -> None:
    base, _ = site
    results = views[base + search]
    assert len(results) == 4
    for result in results:
        assert result.status == status, result.url
        assert result.describe() == [], "\n".join(result.describe())
    errors = [str(e) for e in vnu_report[search]]
    assert errors == [], "\n".join(errors)
    if search.endswith("pontile"):
        assert LOCAL_TITLES[0] in httpx.get(base + search).text


@pytest.mark.parametrize("feed", FEEDS)
def test_feed_browser_view_is_a_clean_italian_page(
    site: tuple[str, Path],
    views: dict[str, list[AxeResult]],
    vnu_report: dict[str, list[VnuMessage]],
    feed: str,
) -> None:
    base, _ = site
    results = views[base + feed]
    for result in results:
        assert result.status == 200
        assert result.describe() == [], "\n".join(result.describe())
    html = results[0].html
    assert html is not None
    # The stylesheet ran: an HTML page, not the feed's XML tree.
    assert html.startswith("<!DOCTYPE html>") and '<html lang="it">' in html
    assert "Questo è un feed" in html
    assert f'<code class="indirizzo">{base}{feed}</code>' in html
    assert re.search(r'<time datetime="2025-04-01T13:00:00\+02:00">\s*1 aprile 2025, 13:00', html)
    assert LOCAL_TITLES[0] in html
    errors = [str(e) for e in vnu_report[feed]]
    assert errors == [], "\n".join(errors)
