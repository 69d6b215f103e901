"""An article page's body is the stored HTML sanitized again at publishing
(`feeds.common.published_html`), so a row that never went through ingest (written by
hand, or by an older release) still publishes no script, whichever way it is cleaned."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import html

from db.records import SourceSpec
from db.store import Store
from feeds.site import SiteInfo
from tests import factories
from tests.factories import build_with_pages

SITE = SiteInfo(
    title="Il Foglio del borgo",
    link="https://borgo.example.it/",
    base_url="https://borgo.example.it/",
)
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
DESK = SourceSpec(name="Redazione del borgo", kind="files", location="/tmp/borgo")


def _body(store: Store, out: Path, content_html: str) -> str:
    source = store.ensure_source(DESK)
    text = "La fiera del borgo torna in piazza."
    draft = factories.draft("fiera.md", "Torna la fiera", text, content_html=content_html)
    store.upsert_articles(source, [draft])
    build_with_pages(store, out, SITE, NOW)
    article = store.latest_articles(1)[0]
    page = html.fromstring((out / article.page_path / "index.html").read_bytes())
    body = page.find('.//div[@class="body"]')
    assert body is not None
    return "".join(html.tostring(child, encoding="unicode") for child in body)


@pytest.mark.parametrize(
    ("stored", "published"),
    [
        (
            '<p>Il sindaco <q cite="javascript:alert(1)">apre la fiera</q>.</p>',
            "<p>Il sindaco <q>apre la fiera</q>.</p>",
        ),
        (
            '<blockquote CITE="data:text/html,x"><p>Tutti in piazza.</p></blockquote>',
            "<blockquote><p>Tutti in piazza.</p></blockquote>",
        ),
        (
            '<p><img src="https://foto.example.it/fiera.jpg" alt="La piazza"'
            ' srcset="javascript:alert(1) 2x"></p>',
            '<p><img src="https://foto.example.it/fiera.jpg" alt="La piazza"></p>',
        ),
        (
            '<p><img src="https://foto.example.it/fiera.jpg" alt="La piazza"'
            ' srcset="https://foto.example.it/fiera-2x.jpg 2x"></p>',
            '<p><img src="https://foto.example.it/fiera.jpg" alt="La piazza"'
            ' srcset="https://foto.example.it/fiera-2x.jpg 2x"></p>',
        ),
        (
            '<p>Si recita in piazza: <a href="https://borgo.example.it/fiera" onclick="x()">il'
            " programma</a>.</p><script>alert(1)</script>",
            '<p>Si recita in piazza: <a href="https://borgo.example.it/fiera"'
            ' rel="noopener noreferrer">il programma</a>.</p>',
        ),
    ],
    ids=["cite", "cite-uppercase", "srcset-script", "srcset-web", "no-filtered-attribute"],
)
def test_a_body_stored_unsanitized_is_published_clean(
    store: Store, out: Path, stored: str, published: str
) -> None:
    assert _body(store, out, stored).strip() == published
