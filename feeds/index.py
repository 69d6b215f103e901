"""The human side of the output: an Italian `index.html` and the `opml.xml` of every feed."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from lxml import etree

from db.records import StoredArticle
from feeds.common import local, one_line, title_of
from feeds.render import ATOM_TYPE, JSON_TYPE, RSS_TYPE
from feeds.sections import (
    KIND_AUTHOR,
    KIND_CATEGORY,
    KIND_ROOT,
    KIND_SOURCE,
    KIND_TAG,
    KIND_TOPIC,
    FeedSpec,
)
from feeds.site import SiteInfo

# Month names by hand: strftime("%B") would depend on the process locale.
_MONTHS = (
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
)

_GROUPS = (
    (KIND_TOPIC, "Temi"),
    (KIND_CATEGORY, "Categorie"),
    (KIND_SOURCE, "Fonti"),
    (KIND_TAG, "Tag"),
    (KIND_AUTHOR, "Autori"),
)

_STYLE = """
:root { color-scheme: light dark; --bg: #fff; --fg: #1a1a1a; --muted: #595959;
  --accent: #0b6e4f; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #121212; --fg: #e8e8e8; --muted: #b3b3b3; --accent: #6fd6ac; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg); color: var(--fg); }
main { max-width: 46rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.75rem; margin: 1rem 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #8884; }
h3 { font-size: 1rem; margin: 1.25rem 0 .25rem; }
a { color: var(--accent); }
ul { list-style: none; padding: 0; margin: 0; }
.feeds li { display: flex; flex-wrap: wrap; justify-content: space-between; gap: .25rem 1rem;
  padding: .35rem 0; border-bottom: 1px solid #8882; }
.formats { white-space: nowrap; }
.formats a { display: inline-block; padding: .2rem .55rem; margin-left: .25rem;
  border-radius: .25rem; border: 1px solid currentColor; font-size: .85rem;
  text-decoration: none; }
.articles li { padding: .6rem 0; border-bottom: 1px solid #8882; }
.meta { color: var(--muted); font-size: .875rem; }
"""


def italian_date(article: StoredArticle, site: SiteInfo) -> str:
    """`3 marzo 2025, 09:05` in the site's time zone."""
    moment = local(article.published, site.tz)
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}, {moment:%H:%M}"


def _formats(site: SiteInfo, spec: FeedSpec) -> str:
    links = (
        (spec.rss_path, "RSS"),
        (spec.atom_path, "Atom"),
        (spec.json_path, "JSON"),
    )
    return "".join(
        f'<a href="{escape(site.url(path))}" title="{label}: {escape(one_line(spec.name))}">'
        f"{label}</a>"
        for path, label in links
    )


def _feed_item(site: SiteInfo, spec: FeedSpec, label: str) -> str:
    return (
        f'<li><span>{escape(label)}</span><span class="formats">{_formats(site, spec)}</span></li>'
    )


def render_index(
    site: SiteInfo, specs: Sequence[FeedSpec], latest: Sequence[StoredArticle]
) -> bytes:
    """The home page: every feed with its subscribe links, then the latest articles."""
    title = escape(one_line(site.title))
    root = next((s for s in specs if s.kind == KIND_ROOT), None)
    head = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(site.language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
    ]
    if root is not None:
        for path, mime, name in (
            (root.rss_path, RSS_TYPE, "RSS"),
            (root.atom_path, ATOM_TYPE, "Atom"),
            (root.json_path, JSON_TYPE, "JSON Feed"),
        ):
            head.append(
                f'<link rel="alternate" type="{mime}" title="{title} ({name})" '
                f'href="{escape(site.url(path))}">'
            )
    head += [f"<style>{_STYLE}</style>", "</head>"]

    body = ["<body>", "<main>", f"<h1>{title}</h1>"]
    if site.description:
        body.append(f"<p>{escape(one_line(site.description))}</p>")
    body.append(
        "<p>Copia uno dei link qui sotto nel tuo lettore di feed per abbonarti. "
        f'Tutti i feed sono anche in <a href="{escape(site.url("opml.xml"))}">OPML</a>.</p>'
    )
    body.append("<h2>Feed</h2>")
    if root is not None:
        body += ['<ul class="feeds">', _feed_item(site, root, "Tutti gli articoli"), "</ul>"]
    for kind, heading in _GROUPS:
        group = [s for s in specs if s.kind == kind]
        if not group:
            continue
        body += [f"<h3>{heading}</h3>", '<ul class="feeds">']
        body += [_feed_item(site, s, one_line(s.name)) for s in group]
        body.append("</ul>")

    body.append("<h2>Ultimi articoli</h2>")
    if not latest:
        body.append("<p>Ancora nessun articolo.</p>")
    else:
        body.append('<ul class="articles">')
        for article in latest:
            meta = [
                f'<time datetime="{local(article.published, site.tz).isoformat()}">'
                f"{italian_date(article, site)}</time>"
            ]
            if article.category is not None:
                cat = article.category
                meta.append(
                    f'<a href="{escape(site.url(f"categoria/{cat.slug}/rss.xml"))}">'
                    f"{escape(one_line(cat.name))}</a>"
                )
            meta.append(escape(one_line(article.source_name)))
            link = escape(article.url or site.link)
            body.append(
                f'<li><a href="{link}">{escape(title_of(article))}</a>'
                f'<div class="meta">{" · ".join(meta)}</div></li>'
            )
        body.append("</ul>")
    body += ["</main>", "</body>", "</html>", ""]
    return "\n".join(head + body).encode("utf-8")


def render_opml(site: SiteInfo, specs: Sequence[FeedSpec]) -> bytes:
    """OPML 2.0 listing the RSS feed of every section, grouped like the index page.

    One format per section: readers importing it would otherwise subscribe three times.
    No `dateCreated`, so the bytes only change when the list does.
    """
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = f"{one_line(site.title)}: tutti i feed"
    body = etree.SubElement(opml, "body")

    def outline(parent: etree._Element, spec: FeedSpec) -> None:
        etree.SubElement(
            parent,
            "outline",
            type="rss",
            text=one_line(spec.title),
            title=one_line(spec.title),
            xmlUrl=site.url(spec.rss_path),
            htmlUrl=site.link,
            language=site.language,
        )

    for spec in specs:
        if spec.kind == KIND_ROOT:
            outline(body, spec)
    for kind, heading in _GROUPS:
        group = [s for s in specs if s.kind == kind]
        if group:
            folder = etree.SubElement(body, "outline", text=heading, title=heading)
            for spec in group:
                outline(folder, spec)
    return bytes(etree.tostring(opml, pretty_print=True, encoding="UTF-8", xml_declaration=True))
