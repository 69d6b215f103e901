"""The activity counters (db.counters) and the operator's status page (/stato)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import html
from sqlalchemy import func, select

from db import counters
from db.records import FetchKind, FetchOutcome, SourceSpec
from db.store import Store
from db.tables import ARTICLES, COUNTERS
from db.upsert import upsert_articles
from rassegna.config import Settings, load_settings
from rassegna.server import app_for
from rassegna.status import StatusPage, collect
from tests.conftest import serving, write_config
from tests.factories import search_draft as draft

CONFIG = """
[site]
title = "Prova"
base_url = "http://127.0.0.1:8080/"

[database]
url = "{db}"

[server]
status = {status}

[output]
dir = "{out}"

[[sources]]
name = "Buona"
kind = "feed"
url = "http://127.0.0.1:9/buona.xml"

[[sources]]
name = "Guasta"
kind = "feed"
url = "http://127.0.0.1:9/guasta.xml"
"""


def _stored_per_day(store: Store, source_id: int) -> dict[int, int]:
    """Articles of a source by UTC day of storing, counted in the articles table."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(ARTICLES.c.ingested).where(ARTICLES.c.source_id == source_id)
        ).scalars()
        days: dict[int, int] = {}
        for ingested in rows:
            day = counters.day_of(ingested)
            days[day] = days.get(day, 0) + 1
        return days


def test_counters_add_up_what_the_store_holds(any_store: Store) -> None:
    now = datetime.now(UTC)
    source = any_store.ensure_source(SourceSpec("Agenzia", "feed", "http://127.0.0.1:9/a"))
    upsert_articles(
        any_store.engine,
        source,
        [draft(f"ieri{i}", f"Notizia di ieri {i}") for i in range(3)],
        when=now - timedelta(days=1),
    )
    upsert_articles(
        any_store.engine, source, [draft(f"oggi{i}", f"Notizia {i}") for i in range(2)], when=now
    )
    # The same drafts again store nothing and count nothing.
    upsert_articles(
        any_store.engine, source, [draft(f"oggi{i}", f"Notizia {i}") for i in range(2)], when=now
    )
    for kind in (FetchKind.OK, FetchKind.NOT_MODIFIED, FetchKind.NOT_MODIFIED, FetchKind.ERROR):
        any_store.record_fetch_outcome(source, FetchOutcome(kind=kind, error="x"), when=now)
    days = any_store.counter_rows(counters.DAY, counters.day_of(now) - 3)
    assert {r[1]: r[2] for r in days if r[2]} == _stored_per_day(any_store, source)
    hour = any_store.counter_rows(counters.HOUR, counters.hour_of(now))
    assert [r[2:] for r in hour] == [(2, 1, 2, 1)]
    totals = any_store.stored_per_bucket(counters.DAY, counters.day_of(now) - 3)
    assert totals == _stored_per_day(any_store, source)
    with any_store.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(COUNTERS)).scalar()
    # Rows older than 90 days go with the upkeep; recent ones stay.
    upsert_articles(
        any_store.engine, source, [draft("vecchia", "Vecchia")], when=now - timedelta(days=91)
    )
    counters.prune(any_store.engine, now)
    with any_store.engine.connect() as connection:
        after = connection.execute(select(func.count()).select_from(COUNTERS)).scalar()
    assert after == count
    # The source's total follows stores and deletes: it is what the articles table holds.
    assert counters.article_counts(any_store.engine) == {source: 6}
    assert any_store.delete_source_articles(source, ["oggi0", "assente"]) == 1
    any_store.prune(keep_per_source=2)
    with any_store.engine.connect() as connection:
        held = connection.execute(select(func.count()).select_from(ARTICLES)).scalar()
    assert held == 2 and counters.article_counts(any_store.engine) == {source: 2}
    assert [s.article_count for s in any_store.source_states(exact_counts=False)] == [2]


def _settings(tmp_path: Path, *, status: bool = True) -> Path:
    return write_config(
        tmp_path,
        CONFIG.format(
            db=f"sqlite:///{tmp_path / 'r.db'}",
            status=str(status).lower(),
            out=tmp_path / "public",
        ),
    )


@pytest.fixture
def page_store(tmp_path: Path) -> Store:
    settings = load_settings(_settings(tmp_path))
    store = Store.open(settings.database_url)
    now = datetime.now(UTC)
    good = store.ensure_source(SourceSpec("Buona", "feed", "http://127.0.0.1:9/buona.xml"))
    bad = store.ensure_source(SourceSpec("Guasta", "feed", "http://127.0.0.1:9/guasta.xml"))
    for days_ago, n in ((0, 2), (1, 4), (5, 1)):
        drafts = [draft(f"d{days_ago}-{i}", f"Articolo {days_ago} {i}") for i in range(n)]
        upsert_articles(store.engine, good, drafts, when=now - timedelta(days=days_ago))
    store.record_fetch_outcome(good, FetchOutcome(kind=FetchKind.OK), when=now)
    store.record_fetch_outcome(
        bad, FetchOutcome(kind=FetchKind.ERROR, status=500, error="HTTP 500 dal server"), when=now
    )
    return store


def _get_stato(settings: Settings, store: Store) -> httpx.Response:
    """GET /stato from the daemon's app served over loopback; `store` is closed after."""
    try:
        with serving(app_for(settings, status=StatusPage(settings, store))) as root:
            return httpx.get(f"{root}/stato")
    finally:
        store.close()


def test_status_page_lists_failing_sources_first(tmp_path: Path, page_store: Store) -> None:
    answer = _get_stato(load_settings(_settings(tmp_path)), page_store)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == "no-store"
    page: Any = html.fromstring(answer.content)
    rows: list[Any] = page.xpath("//table[@class='sources']/tbody/tr")
    assert [r.xpath("string(td[1]/strong)") for r in rows] == ["Guasta", "Buona"]
    assert rows[0].xpath("string(.//p[@class='error'])") == "HTTP 500 dal server"
    assert rows[0].xpath("string(.//span[contains(@class,'state')])") == "in backoff"
    # The sparkline plots, day by day, the articles the store holds.
    spark: Any = rows[1].xpath(".//svg[contains(@class,'spark')]")[0]
    values = [int(v) for v in spark.get("data-values").split(",")]
    assert len(values) == 30
    assert values[-1] == 2 and values[-2] == 4 and values[-6] == 1 and sum(values) == 7
    assert spark.xpath("string(title)").endswith(", ".join(str(v) for v in values))
    bars: Any = page.xpath("//svg[contains(@class,'bars')]")[0]
    assert sum(int(v) for v in bars.get("data-values").split(",")) >= 2


def test_status_values_match_store(tmp_path: Path, page_store: Store) -> None:
    settings = load_settings(_settings(tmp_path))
    report = collect(settings, page_store)
    good = next(s for s in report.sources if s.name == "Buona")
    today = counters.day_of(report.generated)
    with page_store.engine.connect() as connection:
        source_id = connection.execute(select(ARTICLES.c.source_id).limit(1)).scalar_one()
    per_day = _stored_per_day(page_store, source_id)
    expected = [per_day.get(today - (29 - i), 0) for i in range(30)]
    assert list(good.per_day) == expected
    assert good.articles == 7
    assert good.outcomes[-1] == (1, 0, 0)
    page_store.close()


def test_status_can_be_turned_off(tmp_path: Path, page_store: Store) -> None:
    answer = _get_stato(load_settings(_settings(tmp_path, status=False)), page_store)
    assert answer.status_code == 404


def test_status_page_conforms(tmp_path: Path, page_store: Store) -> None:
    """Nu HTML Checker: no error; axe-core: no WCAG 2.1 AA violation at 1280 and 390 px in
    light and dark schemes. The screenshots land in $RASSEGNA_SHOTS when it is set."""
    import os

    from tests.conformance import axe_check, missing_tools, vnu_errors_in

    missing = missing_tools()
    if missing is not None:
        pytest.skip(missing)
    settings = load_settings(_settings(tmp_path))
    shots = Path(os.environ.get("RASSEGNA_SHOTS", tmp_path / "shots"))
    try:
        with serving(app_for(settings, status=StatusPage(settings, page_store))) as root:
            url = f"{root}/stato"
            body = httpx.get(url).text
            results = axe_check([url], screenshots=shots)
    finally:
        page_store.close()
    assert [str(m) for m in vnu_errors_in({"stato": body})] == []
    assert [line for r in results for line in r.describe()] == []
    assert {(r.width, r.scheme) for r in results if r.status == 200} == {
        (1280, "light"),
        (1280, "dark"),
        (390, "light"),
        (390, "dark"),
    }


def test_status_command(tmp_path: Path, page_store: Store) -> None:
    from tests.conftest import run_cli

    page_store.close()
    config = _settings(tmp_path)
    done = run_cli("--config", str(config), "status", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [s["name"] for s in report["sources"]] == ["Guasta", "Buona"]
    assert report["sources"][0]["last_error"] == "HTTP 500 dal server"
    assert sum(report["sources"][1]["per_day"]) == 7
    table = run_cli("--config", str(config), "status", env={"COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert "HTTP 500 dal server" in table.stdout
    assert "in backoff" in table.stdout
    assert "█" in table.stdout  # the day with the most articles


def _row(page: Any, name: str) -> Any:
    return next(
        r
        for r in page.xpath("//table[@class='sources']/tbody/tr")
        if r.xpath("string(td[1]/strong)") == name
    )


def test_status_page_draws_again_what_changed(tmp_path: Path, page_store: Store) -> None:
    """Rows are kept between requests: a store of articles with no fetch recorded, and a
    fetch, each show on the next request."""
    settings = load_settings(_settings(tmp_path))
    page = StatusPage(settings, page_store)
    ids = {s.name: s.id for s in page_store.source_states()}
    before: Any = html.fromstring(page())
    assert page() == page()  # nothing changed: the same page
    drafts = [draft(f"nuovo-{i}", f"Articolo nuovo {i}") for i in range(3)]
    upsert_articles(page_store.engine, ids["Buona"], drafts, when=datetime.now(UTC))
    page_store.record_fetch_outcome(
        ids["Guasta"],
        FetchOutcome(
            kind=FetchKind.OK,
            status=200,
            min_interval=7200,
            min_interval_origin="Cache-Control max-age=7200",
        ),
    )
    after: Any = html.fromstring(page())
    page_store.close()
    spark: Any = _row(after, "Buona").xpath(".//svg[contains(@class,'spark')]")[0]
    values = [int(v) for v in spark.get("data-values").split(",")]
    assert values[-1] == 2 + 3 and sum(values) == 7 + 3
    assert _row(after, "Buona").xpath("string(td[@data-label='Articoli'])") == "10"
    guasta = _row(after, "Guasta")
    assert guasta.xpath("string(.//span[contains(@class,'state')])") == "ok"
    assert guasta.xpath(".//p[@class='error']") == []
    assert " ".join(guasta.xpath("string(td[@data-label='Intervallo'])").split()) == (
        "2 h (chiesto dal server: Cache-Control max-age=7200)"
    )
    # The failing source came first; now both are ok, in name order.
    names = [r.xpath("string(td[1]/strong)") for r in after.xpath("//tbody/tr[@id]")]
    assert [r.xpath("string(td[1]/strong)") for r in before.xpath("//tbody/tr[@id]")] == [
        "Guasta",
        "Buona",
    ]
    assert names[-2:] == ["Buona", "Guasta"]
