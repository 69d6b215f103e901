"""Feed dates below the second: the store keeps microseconds, Atom shows them (and a
tie-breaker from the article's id in `updated`), RSS and JSON Feed stay to the second."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lxml import etree

from db.store import Store
from feeds.common import atom_updated
from feeds.jsonfeed import render_json
from feeds.render import render_xml
from tests import factories
from tests.factories import add_source
from tests.factories import stored_article as article
from tests.test_feeds_render import NS, ROOT, SITE, nodes

T0 = datetime(2026, 10, 3, 7, 15, 42, tzinfo=UTC)


def _instant(text: str) -> Decimal:
    """An RFC 3339 date as seconds since the epoch, keeping every fractional digit."""
    whole, offset = text[:19], text[-6:]
    fraction = text[19:-6]
    base = datetime.fromisoformat(whole + offset).timestamp()
    return Decimal(int(base)) + (Decimal(fraction) if fraction else Decimal(0))


def test_the_store_keeps_microseconds(any_store: Store) -> None:
    sid = add_source(any_store, "Redazione")
    draft = factories.draft(
        "a.txt",
        "Il ponte riapre",
        "Testo",
        published=T0.replace(microsecond=649_678),
        updated=T0.replace(microsecond=912_001),
    )
    any_store.upsert_articles(sid, [draft])
    [stored] = any_store.latest_articles(1)
    assert stored.published == T0.replace(microsecond=649_678)
    assert stored.updated == T0.replace(microsecond=912_001)


def test_atom_dates_keep_the_fraction_of_a_second_rss_does_not() -> None:
    # Two files written 0.3 s apart within one second.
    first = T0.replace(microsecond=100_000)
    second = T0.replace(microsecond=400_000)
    items = [
        article(2, published=second, updated=second),
        article(1, published=first, updated=first),
    ]
    rendered = render_xml(SITE, ROOT, items)
    atom = etree.fromstring(rendered.atom)
    assert nodes(atom, "a:entry/a:published/text()") == [
        "2026-10-03T09:15:42.400000+02:00",
        "2026-10-03T09:15:42.100000+02:00",
    ]
    updated = nodes(atom, "a:entry/a:updated/text()")
    assert updated == [
        "2026-10-03T09:15:42.400000002+02:00",
        "2026-10-03T09:15:42.100000001+02:00",
    ]
    assert atom.findtext("a:updated", namespaces=NS) == updated[0]
    rss = etree.fromstring(rendered.rss)
    assert nodes(rss, "channel/item/pubDate/text()") == ["Sat, 03 Oct 2026 09:15:42 +0200"] * 2
    assert rss.findtext("channel/lastBuildDate") == "Sat, 03 Oct 2026 09:15:42 +0200"
    feed = json.loads(render_json(SITE, ROOT, items))
    assert [i["date_modified"] for i in feed["items"]] == ["2026-10-03T09:15:42+02:00"] * 2


def test_atom_updated_is_unique_even_for_articles_stored_in_the_same_microsecond() -> None:
    # Files written within one tick of the file system clock share their mtime exactly.
    items = [article(n, published=T0, updated=T0) for n in (3, 2, 1)]
    atom = etree.fromstring(render_xml(SITE, ROOT, items).atom)
    updated = nodes(atom, "a:entry/a:updated/text()")
    assert len(set(updated)) == len(items)
    for text in updated:
        # Never more than a microsecond away from the stored date.
        assert 0 <= _instant(text) - Decimal(int(T0.timestamp())) < Decimal("0.000001")
        assert datetime.fromisoformat(text) == T0  # readers that drop nanoseconds


def test_the_tie_breaker_never_reorders_different_dates() -> None:
    earlier = article(999, published=T0, updated=T0)
    later = article(1, published=T0, updated=T0 + timedelta(microseconds=1))
    assert _instant(atom_updated(earlier, SITE.tz)) < _instant(atom_updated(later, SITE.tz))
    # updated is never before published, as shown.
    shown = article(5, published=T0.replace(microsecond=7), updated=T0.replace(microsecond=7))
    atom = etree.fromstring(render_xml(SITE, ROOT, [shown]).atom)
    published = atom.findtext("a:entry/a:published", namespaces=NS)
    updated_text = atom.findtext("a:entry/a:updated", namespaces=NS)
    assert published is not None and updated_text is not None
    assert _instant(updated_text) >= _instant(published)
