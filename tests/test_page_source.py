"""Page sources and ad-hoc URLs over real loopback HTTP: article extraction with
trafilatura, or a site rule or the source's content_selector first, index pages with a link pattern, feed autodiscovery, and the CLI's
`rassegna ingest URL [--dry-run]`."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pytest_httpserver import HTTPServer

from db.records import SourceSpec
from db.store import Store
from ingest.extract import Selectors
from ingest.fetch import Fetcher
from ingest.fulltext import FullTextOptions
from ingest.remote import RemoteOptions, ingest_remote_source
from ingest.siterules import load_site_rules
from tests.conftest import run_cli, write_config
from tests.remote_helpers import feed_bytes, policy, serve_feed

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def article_page(title: str, slug: str, *, date: str = "2026-04-21T07:30:00+02:00") -> str:
    return f"""<!doctype html><html lang="it"><head><meta charset="utf-8">
<title>{title} | Eco della Valle</title>
<base href="/notizie/">
<meta name="author" content="Sara Lombardi">
<meta name="description" content="Una breve presentazione della notizia.">
<meta property="og:image" content="img/{slug}.jpg">
<meta property="article:published_time" content="{date}">
<link rel="canonical" href="/notizie/{slug}?utm_source=home">
</head><body><nav><a href="/">Prima pagina</a> <a href="/sport">Sport</a></nav>
<article><h1>{title}</h1>
<p>Il consiglio comunale ha approvato ieri sera il progetto della nuova biblioteca, che
sorgerà nell'area dell'ex macello. I lavori dovrebbero cominciare entro l'estate.</p>
<p>La spesa prevista è di due milioni e mezzo di euro, in parte coperti da un contributo
regionale. L'opposizione ha chiesto più parcheggi e un calendario dei cantieri.</p>
<p><img src="img/{slug}-pianta.png" width="1" height="1"> Il progetto prevede anche una sala
per i ragazzi e un giardino di lettura aperto nei mesi caldi.</p>
</article><footer>Eco della Valle, via Roma 1</footer></body></html>"""


def test_page_source_extracts_the_article(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/notizie/biblioteca").respond_with_data(
        article_page("Via libera alla nuova biblioteca", "biblioteca"),
        content_type="text/html; charset=utf-8",
    )
    spec = SourceSpec(name="Eco", kind="page", location=httpserver.url_for("/notizie/biblioteca"))
    with Fetcher(policy()) as fetcher:
        report = ingest_remote_source(store, spec, fetcher, options=RemoteOptions(), now=NOW)
    assert report.error is None and report.new == 1, report
    article = store.latest_articles(1)[0]
    base = f"http://{httpserver.host}:{httpserver.port}"
    assert article.title == "Via libera alla nuova biblioteca"
    assert article.authors == ("Sara Lombardi",)
    assert article.published == datetime(2026, 4, 21, 7, 30, tzinfo=ROME)
    assert article.url == f"{base}/notizie/biblioteca"
    assert article.guid == f"{base}/notizie/biblioteca"
    assert article.image_url == f"{base}/notizie/img/biblioteca.jpg"  # <base href> applied
    assert "nell'area dell'ex macello" in article.content_text
    assert "Prima pagina" not in article.content_text  # navigation is not the article
    assert "pianta.png" not in article.content_html  # 1x1 pixel dropped
    again = None
    with Fetcher(policy()) as fetcher:
        again = ingest_remote_source(store, spec, fetcher, options=RemoteOptions(), now=NOW)
    assert (again.new, again.same) == (0, 1)


def test_index_page_with_link_pattern(httpserver: HTTPServer, store: Store) -> None:
    index = """<html><body><a href="/notizie/uno">Uno</a> <a href="/notizie/due?utm_medium=x">Due</a>
    <a href="/chi-siamo">Chi siamo</a> <a href="/notizie/uno#commenti">Uno, commenti</a></body></html>"""
    httpserver.expect_request("/").respond_with_data(index, content_type="text/html")
    for slug, title in (("uno", "La prima notizia del giorno"), ("due", "La seconda notizia")):
        httpserver.expect_request(f"/notizie/{slug}").respond_with_data(
            article_page(title, slug), content_type="text/html"
        )
    spec = SourceSpec(name="Indice", kind="page", location=httpserver.url_for("/"))
    options = RemoteOptions(link_pattern=r"/notizie/[a-z]+$")
    with Fetcher(policy()) as fetcher:
        report = ingest_remote_source(store, spec, fetcher, options=options, now=NOW)
        assert report.new == 2, report
        fetched = [r.path for r, _ in httpserver.log]
        assert sorted(fetched) == ["/", "/notizie/due", "/notizie/uno"]
        # Known articles are not fetched again.
        ingest_remote_source(store, spec, fetcher, options=options, now=NOW)
    assert [r.path for r, _ in httpserver.log[3:]] == ["/"]


def config_for(tmp_path: Path, extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f"""
[state]
dir = "var"

[ingest]
allow_private_networks = true
{extra}
""",
    )


def test_cli_adhoc_feed_url_dry_run_stores_nothing(httpserver: HTTPServer, tmp_path: Path) -> None:
    url = serve_feed(httpserver, "/feed", "wordpress.xml")
    config = config_for(tmp_path)
    result = run_cli("--config", str(config), "ingest", url, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Il mercato coperto riapre dopo sei mesi di lavori" in result.stdout
    assert "2 articles would be stored (dry run)" in result.stdout
    assert "authors: Giulia Ferraresi" in result.stdout
    listing = json.loads(run_cli("--config", str(config), "articles", "--json").stdout)
    assert listing == []


def test_cli_adhoc_page_autodiscovers_its_feed(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/").respond_with_data(
        '<html><head><link rel="alternate" type="application/rss+xml" title="Feed"'
        ' href="/feed/"></head><body>Home</body></html>',
        content_type="text/html",
    )
    serve_feed(httpserver, "/feed/", "media-images.xml")
    config = config_for(tmp_path)
    result = run_cli("--config", str(config), "ingest", httpserver.url_for("/"), "--no-build")
    assert result.returncode == 0, result.stderr
    assert "3 new" in result.stdout
    listing = json.loads(run_cli("--config", str(config), "articles", "--json").stdout)
    assert len(listing) == 3
    assert listing[0]["source_name"] == httpserver.url_for("/feed/")


def test_cli_adhoc_article_page(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/notizie/biblioteca").respond_with_data(
        article_page("Via libera alla nuova biblioteca", "biblioteca"), content_type="text/html"
    )
    config = config_for(tmp_path)
    url = httpserver.url_for("/notizie/biblioteca")
    result = run_cli("--config", str(config), "ingest", url, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Via libera alla nuova biblioteca" in result.stdout
    assert "1 articles would be stored" in result.stdout


def test_cli_adhoc_url_refused_without_private_networks(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/feed").respond_with_data(feed_bytes("wordpress.xml"))
    config = write_config(tmp_path, '[state]\ndir = "var"\n')
    url = f"http://127.0.0.1:{httpserver.port}/feed"
    result = run_cli("--config", str(config), "ingest", url)
    assert result.returncode == 1
    assert "refused" in result.stderr and "allow_private_networks" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(httpserver.log) == 0


def test_configured_feed_source_through_the_cli(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve_feed(httpserver, "/feed", "jsonfeed-11.json", "application/feed+json")
    config = config_for(
        tmp_path,
        f"""
[[sources]]
name = "Quotidiano della Pianura"
kind = "feed"
url = "{httpserver.url_for("/feed")}"
category = "Economia"
user_agent = "Rassegna-Prova/9"
""",
    )
    result = run_cli("--config", str(config), "ingest", "--all", "--no-build")
    assert result.returncode == 0, result.stderr
    assert "Quotidiano della Pianura: 2 new" in result.stdout
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"] == "Rassegna-Prova/9"


FULLTEXT = Path(__file__).resolve().parent / "data" / "fulltext"


def _serve_fulltext_pages(httpserver: HTTPServer) -> None:
    for path, name in (
        ("/cronaca/ponte-riaperto", "cronaca-ponte.html"),
        ("/sport/virtus-rimonta", "sport-pagina1.html"),
        ("/economia/cuoio", "economia-selettore.html"),
    ):
        httpserver.expect_request(path, query_string="").respond_with_data(
            (FULLTEXT / name).read_bytes(), content_type="text/html; charset=utf-8"
        )
    httpserver.expect_request("/sport/virtus-rimonta", query_string="pagina=2").respond_with_data(
        (FULLTEXT / "sport-pagina2.html").read_bytes(), content_type="text/html; charset=utf-8"
    )


def test_page_source_uses_site_rules_then_its_selector(
    httpserver: HTTPServer, store: Store
) -> None:
    """A page source finds its articles' text as full text does for feeds: the site rule
    for the host (localhost here, with its title:, author:, date: and next_page_link:),
    then the source's content_selector (127.0.0.1 has no rule)."""
    _serve_fulltext_pages(httpserver)
    port = httpserver.port
    spec = SourceSpec(
        name="Gazzetta", kind="page", location=f"http://localhost:{port}/cronaca/ponte-riaperto"
    )
    options = RemoteOptions(
        urls=(
            f"http://localhost:{port}/sport/virtus-rimonta",
            f"http://127.0.0.1:{port}/economia/cuoio",
        ),
        full_text=FullTextOptions(
            rules=load_site_rules(FULLTEXT / "rules"),
            selectors=Selectors(content="div.testo", strip=(".box-social", ".banner")),
        ),
    )
    with Fetcher(policy()) as fetcher:
        report = ingest_remote_source(store, spec, fetcher, options=options, now=NOW)
    assert report.error is None and report.new == 3, report
    by_title = {a.title: a for a in store.latest_articles(5)}
    ponte = by_title["Riaperto il ponte sull'Arno dopo otto mesi"]
    assert ponte.authors == ("Marta Guidotti",)
    assert ponte.published == datetime(2026, 11, 5, 8, 15, tzinfo=UTC)
    assert "pile centrali" in ponte.content_text
    for junk in ("Condividi", "Pubblicità", "Leggi anche", "Articoli correlati"):
        assert junk not in ponte.content_text, junk
    virtus = by_title["La lunga notte della Virtus: cronaca di una rimonta"]
    assert "diciotto punti" in virtus.content_text
    assert "tripla dall'angolo" in virtus.content_text.replace("’", "'")  # page 2
    [cuoio] = [a for a in by_title.values() if "quattrocento nuovi contratti" in a.content_text]
    assert "SPAZIO PUBBLICITARIO" not in cuoio.content_text
    assert "LinkedIn" not in cuoio.content_text


def test_configured_page_source_gets_the_site_rules(httpserver: HTTPServer, tmp_path: Path) -> None:
    _serve_fulltext_pages(httpserver)
    shutil.copytree(FULLTEXT / "rules", tmp_path / "regole")
    config = config_for(
        tmp_path,
        f"""site_rules = "regole"

[[sources]]
name = "Gazzetta"
kind = "page"
url = "http://localhost:{httpserver.port}/sport/virtus-rimonta"
""",
    )
    result = run_cli("--config", str(config), "ingest", "--all", "--no-build")
    assert result.returncode == 0, result.stderr
    listing = json.loads(run_cli("--config", str(config), "articles", "--json").stdout)
    assert [a["title"] for a in listing] == ["La lunga notte della Virtus: cronaca di una rimonta"]
    assert any(p.path == "/sport/virtus-rimonta" and p.query_string for p, _ in httpserver.log)


def test_cli_adhoc_article_page_finds_its_text_as_page_sources_do(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """`rassegna ingest URL` of an article page, previewed with --dry-run and stored, takes
    the site rule for its host from [ingest] site_rules before trafilatura: the rule's
    author and date, its strip lines, and the article's second page."""
    _serve_fulltext_pages(httpserver)
    shutil.copytree(FULLTEXT / "rules", tmp_path / "regole")
    config = config_for(tmp_path, 'site_rules = "regole"')
    ponte = f"http://localhost:{httpserver.port}/cronaca/ponte-riaperto"
    virtus = f"http://localhost:{httpserver.port}/sport/virtus-rimonta"

    def second_pages() -> int:
        return sum(
            p.path == "/sport/virtus-rimonta" and bool(p.query_string) for p, _ in httpserver.log
        )

    preview = run_cli("--config", str(config), "ingest", ponte, virtus, "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "authors: Marta Guidotti" in preview.stdout
    assert "2026-11-05T09:15+01:00" in preview.stdout  # the rule's date:
    assert "Condividi" not in preview.stdout
    assert second_pages() == 1
    assert json.loads(run_cli("--config", str(config), "articles", "--json").stdout) == []

    for url in (ponte, virtus):
        stored = run_cli("--config", str(config), "ingest", url, "--no-build")
        assert stored.returncode == 0, stored.stderr
    assert second_pages() == 2
    listing = json.loads(run_cli("--config", str(config), "articles", "--json").stdout)
    by_title = {a["title"]: a for a in listing}
    ponte_article = by_title["Riaperto il ponte sull'Arno dopo otto mesi"]
    assert ponte_article["authors"] == ["Marta Guidotti"]
    assert ponte_article["published"] == "2026-11-05T08:15:00+00:00"
    for junk in ("Condividi", "Pubblicità", "Leggi anche", "Articoli correlati"):
        assert junk not in ponte_article["content_text"], junk
    virtus_article = by_title["La lunga notte della Virtus: cronaca di una rimonta"]
    assert "tripla dall'angolo" in virtus_article["content_text"].replace("’", "'")
