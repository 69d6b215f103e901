"""Rewrite rules (`ingest.rewrite`): CSS selectors remove boxes but keep the text around
them, replacements touch text and never markup, plain-text bodies get replacements."""

from __future__ import annotations

import re

import pytest

from ingest.raw import RawArticle
from ingest.rewrite import Rewrite, RewriteError, Rewriter, compile_selector, rewrite_html

BODY = (
    "<p>Il consiglio comunale ha approvato il piano (ANSA).</p>"
    '<aside class="box leggi-anche"><h3>Leggi anche</h3><a href="/altro">Altro</a></aside>'
    "dopo il box"
    '<div id="newsletter"><p>Iscriviti alla newsletter</p></div>'
    '<p>Il <a href="https://esempio.it/ANSA">link</a> resta (ANSA).</p>'
    "<pre>(ANSA) nel codice</pre>"
)


def test_remove_and_replace() -> None:
    out = rewrite_html(
        BODY,
        [compile_selector(".leggi-anche"), compile_selector("#newsletter")],
        [(re.compile(r" ?\(ANSA\)"), "")],
    )
    assert "Leggi anche" not in out and "newsletter" not in out.lower()
    assert "dopo il box" in out  # the text after a removed element stays
    assert "<p>Il consiglio comunale ha approvato il piano.</p>" in out
    assert 'href="https://esempio.it/ANSA"' in out  # markup untouched
    assert "<p>Il <a" in out and "</a> resta.</p>" in out
    assert "<pre>(ANSA) nel codice</pre>" in out  # verbatim blocks untouched


def test_nothing_to_do_leaves_the_fragment_as_is() -> None:
    assert rewrite_html(BODY, [], []) == BODY
    assert "Leggi anche" in rewrite_html(BODY, [compile_selector(".assente")], [])


def test_a_rewriter_applies_only_its_sources_tables() -> None:
    everywhere = Rewrite("rewrite[0]", replace=((re.compile("Riproduzione riservata"), ""),))
    mine = Rewrite("rewrite[1]", remove=("aside",), sources=frozenset({"A"}))
    raw = RawArticle(guid="g", title="t", origin="o", body_html=BODY)
    Rewriter.for_source([everywhere, mine], "B").apply(raw)
    assert raw.body_html is not None and "Leggi anche" in raw.body_html
    Rewriter.for_source([everywhere, mine], "A").apply(raw)
    assert "Leggi anche" not in raw.body_html
    text = RawArticle(guid="g", title="t", origin="o", body_text="Testo.\nRiproduzione riservata")
    Rewriter.for_source([everywhere], None).apply(text)
    assert text.body_text == "Testo.\n"


def test_bad_selector() -> None:
    with pytest.raises(RewriteError, match='"p:::x" is not a CSS selector'):
        compile_selector("p:::x")


def test_rules_travel_to_worker_processes() -> None:
    """The normalizer pool pickles `DraftRules`; rewrites and rules must survive it."""
    import pickle
    from datetime import UTC, datetime

    from ingest.article import DraftRules
    from ingest.rules import RuleSet, Subject, make_rule

    rewrite = Rewrite("rewrite[0]", remove=(".leggi-anche",), replace=((re.compile("ANSA"), ""),))
    rules = RuleSet((make_rule("rules[0]", "block", patterns={"title": "oroscopo"}),))
    original = DraftRules(rewrite=Rewriter((rewrite,)), filters=rules.for_source("A"))
    copy = pickle.loads(pickle.dumps(original))
    raw = RawArticle(guid="g", title="t", origin="o", body_html=BODY)
    assert copy.rewrite is not None and copy.filters is not None
    copy.rewrite.apply(raw)
    assert raw.body_html is not None and "Leggi anche" not in raw.body_html
    now = datetime(2026, 12, 6, tzinfo=UTC)
    subject = Subject("Oroscopo", "", "", (), (), "", "it", now)
    assert copy.filters.decide(subject, now).reason == "blocked by rules[0]"
