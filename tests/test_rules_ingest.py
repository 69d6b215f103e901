"""Keep/block and rewrite rules in real ingests: a feed served over loopback whose
blocked entries are not stored, are remembered (the next poll does not count them again)
and are counted per source; a rule taken away lets them in; rewrites clean the body; a
files source obeys the same rules. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pytest_httpserver import HTTPServer

from db.blocked import blocked_counts
from db.records import SourceSpec
from db.store import Store
from ingest.fetch import Fetcher
from ingest.pipeline import IngestReport, ingest_files_source
from ingest.remote import RemoteOptions, ingest_remote_source
from rassegna.config import Settings, load_settings
from rassegna.operations import draft_rules
from tests.conftest import write_config
from tests.remote_helpers import policy, rss, rss_item

T0 = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)


def item(n: int, title: str, body: str) -> str:
    return rss_item(
        f"https://esempio.it/a/{n}", title, f"Sun, 06 Dec 2026 0{n % 6}:00:00 GMT", body
    )


FEED = rss(
    item(1, "Oroscopo della settimana", "<p>Le stelle di dicembre per tutti i segni.</p>"),
    item(
        2,
        "La giunta approva il piano per la città",
        "<p>Il piano prevede nuove piste ciclabili. (ANSA)</p>"
        '<div class="leggi-anche"><p>Leggi anche: il sindaco in visita</p></div>'
        '<p>I lavori partono a marzo.</p><ul class="share"><li>Condividi</li></ul>',
    ),
    item(3, "Calciomercato, le ultime trattative", "<p>Il mercato di gennaio si avvicina.</p>"),
)

CONFIG = """
[[sources]]
name = "Notizie"
kind = "feed"
url = "https://esempio.it/feed.xml"

[[sources]]
name = "Comunicati"
kind = "files"
path = "comunicati"
"""

RULES = """
[[rules]]
action = "block"
title = "oroscopo"

[[rules]]
action = "block"
sources = ["Notizie"]
text = "calciomercato|mercato di gennaio"

[[rewrite]]
sources = ["Notizie"]
remove = [".leggi-anche", "ul.share"]
replace = [{ pattern = " ?\\\\(ANSA\\\\)", with = "" }]
"""


def settings(tmp_path: Path, extra: str) -> Settings:
    (tmp_path / "comunicati").mkdir(exist_ok=True)
    return load_settings(write_config(tmp_path, CONFIG + extra), environ={})


def poll(store: Store, url: str, config: Settings, now: datetime) -> IngestReport:
    spec = SourceSpec(name="Notizie", kind="feed", location=url, interval_seconds=600)
    options = RemoteOptions(rules=draft_rules(config, "Notizie"))
    with Fetcher(policy()) as fetcher:
        report = ingest_remote_source(store, spec, fetcher, options=options, now=now)
    assert report.error is None
    return report


def test_blocked_entries_are_not_stored_and_not_counted_again(
    httpserver: HTTPServer, any_store: Store, tmp_path: Path
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(FEED)
    url = httpserver.url_for("/feed.xml")
    config = settings(tmp_path, RULES)
    first = poll(any_store, url, config, T0)
    assert (first.new, first.blocked) == (1, 2)
    [kept] = any_store.latest_articles(10)
    assert kept.title == "La giunta approva il piano per la città"
    assert blocked_counts(any_store.engine) == {"Notizie": 2}

    second = poll(any_store, url, config, T0 + timedelta(hours=1))
    assert (second.new, second.changed, second.blocked) == (0, 0, 0)
    assert len(any_store.latest_articles(10)) == 1
    assert blocked_counts(any_store.engine) == {"Notizie": 2}

    # The football rule goes: its entry is stored, and no longer counted as blocked.
    lenient = settings(tmp_path, RULES.replace("calciomercato|mercato di gennaio", "pallanuoto"))
    third = poll(any_store, url, lenient, T0 + timedelta(hours=2))
    assert (third.new, third.blocked) == (1, 0)
    titles = {a.title for a in any_store.latest_articles(10)}
    assert "Calciomercato, le ultime trattative" in titles
    assert blocked_counts(any_store.engine) == {"Notizie": 1}


def test_rewrites_clean_the_body(httpserver: HTTPServer, store: Store, tmp_path: Path) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(FEED)
    poll(store, httpserver.url_for("/feed.xml"), settings(tmp_path, RULES), T0)
    [kept] = store.latest_articles(10)
    assert "Leggi anche" not in kept.content_html and "Leggi anche" not in kept.content_text
    assert "Condividi" not in kept.content_text
    assert "(ANSA)" not in kept.content_text
    assert "Il piano prevede nuove piste ciclabili." in kept.content_text
    assert "I lavori partono a marzo." in kept.content_text


def test_rewrites_of_another_source_do_not_apply(
    httpserver: HTTPServer, store: Store, tmp_path: Path
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(FEED)
    config = settings(
        tmp_path, RULES.replace('sources = ["Notizie"]\nremove', 'sources = ["Comunicati"]\nremove')
    )
    poll(store, httpserver.url_for("/feed.xml"), config, T0)
    [kept] = store.latest_articles(10)
    assert "Leggi anche" in kept.content_text and "(ANSA)" in kept.content_text


def test_a_files_source_obeys_the_rules(any_store: Store, tmp_path: Path) -> None:
    config = settings(tmp_path, RULES)
    folder = tmp_path / "comunicati"
    (folder / "oroscopo.txt").write_text(
        "Oroscopo di dicembre\nLe stelle del mese\n\nAriete: giornate intense.\n", "utf-8"
    )
    (folder / "giunta.txt").write_text(
        "La giunta si riunisce\nOrdine del giorno\n\nSi discute del bilancio.\n", "utf-8"
    )
    source = config.source("Comunicati")
    assert source is not None
    spec = SourceSpec(name="Comunicati", kind="files", location=str(folder), interval_seconds=60)
    rules = draft_rules(config, "Comunicati")
    first = ingest_files_source(any_store, spec, rules=rules)
    assert (first.new, first.blocked) == (1, 1)
    again = ingest_files_source(any_store, spec, rules=rules)
    assert (again.new, again.blocked) == (0, 0)
    assert [a.title for a in any_store.latest_articles(10)] == ["La giunta si riunisce"]
    assert blocked_counts(any_store.engine) == {"Comunicati": 1}


def test_metrics_count_blocked_entries_per_source(
    httpserver: HTTPServer, store: Store, tmp_path: Path
) -> None:
    from rassegna.metrics import Metrics

    httpserver.expect_request("/feed.xml").respond_with_data(FEED)
    poll(store, httpserver.url_for("/feed.xml"), settings(tmp_path, RULES), T0)
    metrics = Metrics()
    metrics.observe_sources(store.source_states(), blocked_counts(store.engine))
    assert 'rassegna_source_blocked_entries{source="Notizie"} 2.0' in metrics.render().decode()


def test_rules_and_rewrites_on_the_normalizer_pool(store: Store, tmp_path: Path) -> None:
    """Batches big enough for the worker processes get the same rules and rewrites."""
    from ingest.pool import DraftPool

    config = settings(tmp_path, RULES.replace('sources = ["Notizie"]\nremove', "remove"))
    folder = tmp_path / "comunicati"
    for n in range(8):
        (folder / f"oroscopo-{n}.md").write_text(
            f"---\ntitle: Oroscopo numero {n}\n---\n\nLe stelle del giorno.\n", "utf-8"
        )
    for n in range(8):
        (folder / f"giunta-{n}.md").write_text(
            f"---\ntitle: Seduta di giunta {n}\n---\n\nIl bilancio (ANSA) passa.\n\n"
            '<div class="leggi-anche">Leggi anche: altro</div>\n',
            "utf-8",
        )
    spec = SourceSpec(name="Comunicati", kind="files", location=str(folder), interval_seconds=60)
    with DraftPool(2, min_batch=4) as pool:
        report = ingest_files_source(
            store, spec, rules=draft_rules(config, "Comunicati"), pool=pool
        )
        assert pool.worker_pids(), "the batch did not go to the workers"
    assert (report.new, report.blocked, report.problems) == (8, 8, [])
    texts = [a.content_text for a in store.latest_articles(20)]
    assert len(texts) == 8
    assert all("(ANSA)" not in t and "Leggi anche" not in t for t in texts), texts
