"""`db.dedup.visible_digest`: markup churn is not an edit, a changed link or text is."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from db.dedup import visible_digest
from db.records import ArticleDraft

BASE = ArticleDraft(
    guid="g1",
    title="Il consiglio comunale approva il bilancio",
    summary="Via libera dopo tre ore di seduta.",
    content_html='<p>Il testo <a href="https://comune.example/atti" title="Atti">degli atti</a>.</p>'
    '<p><img src="https://comune.example/aula.jpg" alt="Aula"></p>',
    content_text="Il testo degli atti.",
    published=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
)


def test_attribute_order_quotes_case_and_spacing_are_not_edits() -> None:
    churned = replace(
        BASE,
        content_html="<p>Il testo <A TITLE='Atti'  HREF = 'https://comune.example/atti'>degli "
        'atti</A>.</p>\n<p><img alt="Aula" SRC="https://comune.example/aula.jpg"/></p>',
        content_text="Il  testo\n degli atti. ",
    )
    assert visible_digest(churned) == visible_digest(BASE)


def test_a_changed_link_target_or_image_is_an_edit() -> None:
    moved = replace(BASE, content_html=BASE.content_html.replace("/atti", "/delibere"))
    new_image = replace(BASE, content_html=BASE.content_html.replace("aula.jpg", "sala.jpg"))
    assert visible_digest(moved) != visible_digest(BASE)
    assert visible_digest(new_image) != visible_digest(BASE)
    assert visible_digest(moved) != visible_digest(new_image)


@given(st.text(alphabet=st.sampled_from(list("ab àè\t\n\u00a0\u2009")), max_size=40))
def test_whitespace_runs_are_one_space(text: str) -> None:
    spaced = text.replace(" ", " \t ")
    assert visible_digest(replace(BASE, content_text=spaced)) == visible_digest(
        replace(BASE, content_text=text)
    )
