"""The per-build caches of the renderers (`feeds.caches`), the XML character filter and
the RFC 822 dates of the feeds."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from db.records import StoredArticle
from feeds.caches import ArticleLru, TextHandover, texts_of
from feeds.common import clean_text, local, one_line, rfc822
from feeds.jsonfeed import ItemCache, render_json
from feeds.render import EntryCache, render_xml
from feeds.sections import root_spec
from feeds.site import SiteInfo
from tests.factories import stored_article as article

SITE = SiteInfo(title="Rassegna", link="https://rassegna.example.it/", base_url="http://x.test")
ROOT = root_spec(SITE)


def _not_xml(code: int) -> bool:
    """What `clean_text` drops, said one code point at a time."""
    return (
        code <= 0x08
        or code in (0x0B, 0x0C)
        or 0x0E <= code <= 0x1F
        or 0x7F <= code <= 0x9F
        or 0xD800 <= code <= 0xDFFF
        or 0xFDD0 <= code <= 0xFDEF
        or code & 0xFFFE == 0xFFFE  # U+xFFFE and U+xFFFF of every plane
    )


def _reference(text: str) -> str:
    return "".join(c for c in text if not _not_xml(ord(c)))


# Text mixing Italian letters with every kind of character the filter must see: controls,
# surrogates, noncharacters of the first and the other planes, emoji.
_TRICKY = st.sampled_from(
    [
        *("\x00", "\x08", "\t", "\n", "\x0b", "\x1f", "\x7f", "\x9f", "\ud800", "\udfff"),
        *("\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff", "\U0001f600"),
        *("è", "à", "«", "»", "\u00a0", "\U0002fffd"),
    ]
)


@given(st.lists(st.one_of(st.text(max_size=20), _TRICKY), max_size=30).map("".join))
def test_clean_text_drops_exactly_the_characters_xml_cannot_carry(text: str) -> None:
    assert clean_text(text) == _reference(text)


def _one_line_reference(text: str) -> str:
    """`one_line` as the regex spells it: every run of white space one space, ends cut."""
    return re.sub(r"\s+", " ", _reference(text)).strip()


@given(st.lists(st.one_of(st.text(max_size=20), _TRICKY, st.just("  ")), max_size=30).map("".join))
def test_one_line_collapses_white_space_as_the_regex_does(text: str) -> None:
    assert one_line(text) == _one_line_reference(text)


def test_printable_text_holds_nothing_to_drop_nor_white_space_but_the_space() -> None:
    # What the short cut of `clean_text` and `one_line` for printable text rests on.
    assert [
        hex(code)
        for code in range(0x110000)
        if chr(code).isprintable() and (_not_xml(code) or (chr(code).isspace() and code != 32))
    ] == []


def test_clean_text_and_one_line_on_every_character_of_the_first_plane() -> None:
    for code in range(0x10000):
        text = f" a{chr(code)}b {chr(code)}  "
        assert clean_text(text) == _reference(text), hex(code)
        assert one_line(text) == _one_line_reference(text), hex(code)


def test_clean_text_keeps_emoji_and_drops_noncharacters_beyond_the_first_plane() -> None:
    assert clean_text("Città \U0001f600\U0001fffe\U0010ffff ok\x01") == "Città \U0001f600 ok"


def test_lru_drops_the_least_recently_used_beyond_its_limit() -> None:
    made: list[int] = []

    def make(a: StoredArticle) -> int:
        made.append(a.id)
        return len(made)

    lru: ArticleLru[int] = ArticleLru(limit=2)
    one, two, three = article(1), article(2), article(3)
    assert lru.get(one, make) == 1
    assert lru.get(two, make) == 2
    assert lru.get(one, make) == 1  # kept, and now the most recent
    lru.get(three, make)  # drops two
    assert len(lru) == 2
    assert lru.get(two, make) == 4
    assert made == [1, 2, 3, 2]
    # An edit moves `updated`: another version, made again.
    edited = replace(one, updated=one.updated.replace(minute=59), title="Titolo cambiato")
    assert lru.get(edited, make) == 5


def test_handover_gives_the_texts_once_then_forgets_them() -> None:
    handover = TextHandover(SITE.link, limit=2)
    first = handover.texts(article(1))
    assert first == texts_of(article(1), SITE.link)
    assert len(handover) == 1
    assert handover.texts(article(1)) is first  # handed over...
    assert len(handover) == 0  # ...and forgotten
    for n in (1, 2, 3):
        handover.texts(article(n))
    assert len(handover) == 2  # bounded: the oldest went first


def test_shared_caches_give_the_bytes_of_uncached_rendering() -> None:
    items = [
        article(1),
        article(2, content_html="<p>Vedi <a href='/altro'>qui</a> \U0001fffe e \x01.</p>"),
        article(3, content_html="<p></p>", content_text="Solo testo, senza HTML."),
    ]
    handover = TextHandover(SITE.link)
    entries = EntryCache(SITE, limit=2, texts=handover)
    json_items = ItemCache(SITE, limit=2, texts=handover)
    for feed in (items, items[1:], items[::-1]):
        assert render_xml(SITE, ROOT, feed, entries) == render_xml(SITE, ROOT, feed)
        assert render_json(SITE, ROOT, feed, json_items) == render_json(SITE, ROOT, feed)
    assert len(handover) <= len(items)


# Africa/Monrovia: an offset with seconds until 1972.
_ZONES = st.sampled_from(
    ["Europe/Rome", "UTC", "America/St_Johns", "Asia/Kolkata", "Pacific/Chatham", "Africa/Monrovia"]
)


@given(
    st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(2200, 1, 1)),
    _ZONES,
)
def test_rfc822_writes_what_email_utils_writes(moment: datetime, zone: str) -> None:
    tz = ZoneInfo(zone)
    aware = moment.replace(tzinfo=UTC)
    assert rfc822(aware, tz) == format_datetime(local(aware, tz))
