"""`ingest.urls.clean_html` skips its parse for bodies lxml would write back as they are
(`written_back_as_is`): the result must be what the parse gives, on every character the
shortcut takes and on random markup, and the parse must still run on everything else."""

from __future__ import annotations

import sys
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.urls import clean_html, written_back_as_is
from tests.factories import paragraphs_markup

BASE = "https://notizie.example.it/feed"
_TAKEN = [
    char
    for char in map(chr, range(sys.maxunicode + 1))
    if char.isprintable() and char not in "<>&\xa0 "
]


def _parsed(fragment: str) -> tuple[str, str | None]:
    with mock.patch("ingest.urls.written_back_as_is", return_value=False):
        return clean_html(fragment, BASE)


def test_every_character_the_shortcut_takes_comes_back_from_lxml_as_it_is() -> None:
    for start in range(0, len(_TAKEN), 512):
        chars = "".join(_TAKEN[start : start + 512])
        fragment = f"<p>a{chars}b</p>\n<p>c d</p>"
        assert written_back_as_is(fragment), repr(chars)
        assert clean_html(fragment, BASE) == _parsed(fragment) == (fragment, None), repr(chars)
    fragment = "<p>a " + "".join(_TAKEN) + "\nb</p>\n"
    assert written_back_as_is(fragment)
    assert _parsed(fragment) == (fragment, None)


_TEXTS = st.lists(
    st.one_of(
        st.sampled_from(["a", "è", " ", "  ", "\n", '"', "’", "Ã", "\xa0", "&amp;", "&quot;"]),
        st.sampled_from(["<", ">", "&", "\r", "\x00", "<b>x</b>", '<a href="/x">y</a>']),
        st.sampled_from(['<img src="p.gif" width="1" height="1">', '<img src="/f.jpg">']),
        st.characters(),
    ),
    max_size=10,
).map("".join)
_MARKUP = paragraphs_markup(_TEXTS)


@settings(max_examples=500, deadline=None)
@given(_MARKUP)
def test_clean_html_with_the_shortcut_is_clean_html_without_it(fragment: str) -> None:
    assert clean_html(fragment, BASE) == _parsed(fragment)


def test_markup_with_links_images_entities_or_nbsp_is_parsed() -> None:
    assert clean_html('<p>vedi <a href="/a?utm_source=x">qui</a></p>', BASE) == (
        '<p>vedi <a href="https://notizie.example.it/a">qui</a></p>',
        None,
    )
    for fragment in ("<p>A &amp; B</p>", "<p>A\xa0B</p>", '<p class="x">A</p>', "<p> A</p>"):
        assert not written_back_as_is(fragment), fragment
    assert written_back_as_is('<p>Il "sì" del sindaco</p>\n<p>Poi</p>\n')


def test_a_pixel_beside_a_control_character_leaves_the_fragment_as_it_was() -> None:
    # lxml refuses the control character when dropping the pixel moves it into a text
    # node: the fragment stays as it came (nh3 and the text rules clean it later).
    fragment = '<p><img src="p.gif" width="1" height="1">\x1f</p>'
    assert clean_html(fragment, BASE) == (fragment, None)
