"""The `opml.xml` of every feed (the home page is a template, `feeds.pages`)."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from feeds.common import one_line
from feeds.sections import FeedKind, FeedSpec
from feeds.site import SiteInfo

_GROUPS = (FeedKind.TOPIC, FeedKind.CATEGORY, FeedKind.SOURCE, FeedKind.TAG, FeedKind.AUTHOR)


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
        if spec.kind == FeedKind.ROOT:
            outline(body, spec)
    for kind in _GROUPS:
        group = [s for s in specs if s.kind == kind]
        if group:
            folder = etree.SubElement(body, "outline", text=kind.plural, title=kind.plural)
            for spec in group:
                outline(folder, spec)
    return bytes(etree.tostring(opml, pretty_print=True, encoding="UTF-8", xml_declaration=True))
