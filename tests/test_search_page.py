"""`/ricerca?q=...`: the HTML page of a search, over real HTTP, beside the `/cerca` Atom feed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from lxml import html

from db.records import SourceSpec
from db.store import Store
from rassegna.config import load_settings
from rassegna.operations import search_feed
from rassegna.server import app_for
from tests.conftest import serving, write_site_config
from tests.factories import search_draft as draft
from tests.factories import seed_draft


def xp(node: Any, expr: str) -> list[Any]:
    found = node.xpath(expr)
    assert isinstance(found, list)
    return found


def test_ricerca_answers_an_html_page_of_results(tmp_path: Path, shared: Path) -> None:
    config = write_site_config(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    settings = load_settings(config, environ={})
    store = Store.open(settings.database_url)
    source = store.ensure_source(SourceSpec("Agenzia", "files", "/tmp/agenzia"))
    store.upsert_articles(
        source,
        [
            seed_draft(shared),
            draft("citta", "Traffico in città <b>oggi</b>", "Code in centro per il traffico."),
            draft("remoto", "Traffico sul ponte", url="https://agenzia.example.it/ponte"),
        ],
    )
    stored = {a.guid: a for a in store.latest_articles(10)}
    try:
        with serving(app_for(settings, search=search_feed(settings, store))) as root:
            base = f"{root}/"
            answer = httpx.get(base + "ricerca", params={"q": "traffico"})
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "text/html; charset=utf-8"
            page = html.fromstring(answer.content)
            links = {a.text_content(): a.get("href") for a in xp(page, "//main//li//h2/a")}
            # A title is text, never markup; each result leads to its page or its original.
            assert links == {
                "Traffico in città <b>oggi</b>": (
                    f"http://127.0.0.1:8080/{stored['citta'].page_path}/"
                ),
                "Traffico sul ponte": "https://agenzia.example.it/ponte",
            }
            assert xp(page, "//mark")
            assert xp(page, "//input[@name='q']/@value") == ["traffico"]
            assert xp(page, "//meta[@name='robots']/@content") == ["noindex"]
            feed = xp(page, "//link[@rel='alternate']/@href")
            assert feed == ["http://127.0.0.1:8080/cerca?q=traffico"]
            # The Atom answer stays where it was.
            atom = httpx.get(base + "cerca", params={"q": "traffico"})
            assert atom.headers["content-type"].startswith("application/atom+xml")

            form = httpx.get(base + "ricerca")
            assert form.status_code == 200
            assert xp(html.fromstring(form.content), "//form[@role='search']")
            refused = httpx.get(base + "ricerca", params={"q": "*rina"})
            assert refused.status_code == 400
            assert "Ricerca non valida" in refused.text
            assert httpx.get(base + "ricerca", params={"q": "x" * 500}).status_code == 400
    finally:
        store.close()
