"""A small published output for the tests that drive real programs (nginx, newsboat,
Chromium): Italian articles with accents, in two categories, built by `feeds.build`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from db.records import ArticleDraft, SourceSpec
from db.store import Store
from feeds.build import BuildReport
from feeds.site import SiteInfo
from tests.factories import build, draft

SOURCES = (
    SourceSpec(name="Gazzetta del Lago", kind="files", location="/tmp/lago"),
    SourceSpec(name="L'Eco della Valle", kind="files", location="/tmp/valle"),
)
TITLES = (
    "Perché il caffè al banco costerà di più",
    "L'università apre un laboratorio sull'energia",
    "Città più verde: già pronti trenta nuovi alberi",
    "Treni regionali, cosa cambierà da lunedì",
    "Un'estate più calda: ciò che dicono i dati",
    "Festa di primavera, è polemica sulle date",
    "Sanità: più medici di base nelle valli",
    "Il Consiglio approva il bilancio, l'opposizione: «Così non va»",
    "Piste ciclabili in periferia, sarà davvero così?",
    "Scuola: la mensa torna a chilometro zero",
    "Lago d'Iseo, la qualità dell'acqua migliora",
)
START = datetime(2025, 3, 28, 7, tzinfo=UTC)
# The Content-Type of each kind of published file, by its path under the site, as every
# server of the output gives it (ours, and nginx with docs/nginx.conf). RSS and Atom go
# as application/xml, so that browsers apply feed.xsl.
CONTENT_TYPES = {
    "rss.xml": "application/xml; charset=utf-8",
    "atom.xml": "application/xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
    "": "text/html; charset=utf-8",
    "categoria/cronaca/": "text/html; charset=utf-8",
    "categoria/cronaca/rss.xml": "application/xml; charset=utf-8",
    "feed.xsl": "application/xslt+xml; charset=utf-8",
    "opml.xml": "text/x-opml; charset=utf-8",
}


def site(base_url: str, **fields: object) -> SiteInfo:
    settings: dict[str, object] = {
        "title": "Rassegna del Lago",
        "link": "https://rassegna.example.it/",
        "base_url": base_url,
        "description": "Le notizie del lago e delle valli, in un posto solo",
        "items_per_feed": 5,
        "archive_page_size": 4,
    }
    settings.update(fields)
    return SiteInfo(**settings)  # type: ignore[arg-type]


def drafts(source: int) -> list[ArticleDraft]:
    """Every other title for each source, hours apart (across the DST change)."""
    found = []
    for n, title in enumerate(TITLES):
        if n % 2 != source:
            continue
        found.append(
            draft(
                f"articolo-{n}.txt",
                title,
                f"{title}. Ecco perché se ne parla così tanto in città.",
                summary=f"In breve: {title.lower()}.",
                published=START + timedelta(hours=7 * n),
                url=f"https://notizie.example.it/{n}",
                authors=("Giulia Bianchi",) if n % 3 == 0 else (),
                category="Cronaca" if n % 3 else "Economia",
                tags=("Lago",) if n % 4 == 0 else (),
            )
        )
    return found


def fill(store: Store) -> None:
    for index, spec in enumerate(SOURCES):
        store.upsert_articles(store.ensure_source(spec), drafts(index))


def publish(store: Store, out: Path, base_url: str, **fields: object) -> BuildReport:
    fill(store)
    return build(store, out, site(base_url, **fields))
