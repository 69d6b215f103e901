"""Site rules (FiveFilters ftr-site-config format): parsing, errors naming file and line,
host lookup, test_url and its test_contains, the rules rassegna ships, and extraction by
a rule on lxml (which repairs markup as `tidy: yes` asks)."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from ingest.extract import by_rule
from ingest.siterules import SiteRuleError, load_site_rules, parse_rule, shipped_rules

RULE = """
# comment
title: //h1
body: //div[@id='testo']
body: //article
strip: //div[@class='condividi']
strip_id_or_class: pubblicita
strip_image_src: tracker
next_page_link: //a[@rel='next']
single_page_link: //a[@class='pagina-unica']
prune: no
tidy: yes
http_header(user-agent): Qualcosa/1.0
find_string: <br /><br />
replace_string: </p><p>
replace_string(<b>): <strong>
test_url: https://www.esempio.it/a
test_contains: Testo
"""


def test_a_rule_parses_every_directive() -> None:
    rule = parse_rule(RULE, host="esempio.it", path="esempio.it.txt")
    assert rule.body == ("//div[@id='testo']", "//article")
    assert rule.strip == ("//div[@class='condividi']",)
    assert rule.strip_id_or_class == ("pubblicita",)
    assert rule.strip_image_src == ("tracker",)
    assert rule.next_page_link == ("//a[@rel='next']",)
    assert rule.single_page_link == ("//a[@class='pagina-unica']",)
    assert (rule.prune, rule.tidy) == (False, True)
    assert rule.replacements == (("<br /><br />", "</p><p>"), ("<b>", "<strong>"))
    assert rule.test_url == ("https://www.esempio.it/a",) and rule.ignored == ("http_header",)
    again = parse_rule(rule.describe(), host="esempio.it", path="copy")
    assert (again.body, again.strip, again.replacements) == (
        rule.body,
        rule.strip,
        rule.replacements,
    )


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("title: //h1\nbody: //div[@id='x'\n", 2, "not a valid XPath"),
        ("body: //div\nnonsense line\n", 2, 'not a "directive: value" line'),
        ("\n\nfoo_bar: 1\n", 3, 'unknown directive "foo_bar"'),
        ("prune: forse\n", 1, "is not yes or no"),
        ("replace_string: x\n", 1, "without a find_string"),
        ("body: //div\ntest_url: ftp://esempio.it/a\n", 2, "test_url is not an http or https URL"),
        ("test_url: /relativo\n", 1, "test_url is not an http or https URL"),
        ("body: //div\n\ntest_contains: ponte\n", 3, "test_contains without a test_url"),
    ],
)
def test_errors_name_the_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(SiteRuleError) as caught:
        parse_rule(text, host="esempio.it", path="/regole/esempio.it.txt")
    assert caught.value.message.startswith(f"/regole/esempio.it.txt, line {line}: ")
    assert words in caught.value.message


def test_lookup_by_host(tmp_path: Path) -> None:
    (tmp_path / "esempio.it.txt").write_text("body: //article\n", encoding="utf-8")
    (tmp_path / ".gruppo.it.txt").write_text("body: //main\n", encoding="utf-8")
    (tmp_path / "LEGGIMI.md").write_text("not a rule", encoding="utf-8")
    rules = load_site_rules(tmp_path, shipped=False)
    assert len(rules) == 2
    assert rules.for_host("esempio.it") is rules.for_host("www.esempio.it")
    assert rules.for_host("altro.esempio.it") is None  # no leading dot: that host only
    found = rules.for_host("notizie.milano.gruppo.it")
    assert found is not None and found.body == ("//main",)
    assert rules.for_host("gruppo.it.truffa.example") is None


def test_user_rules_replace_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / ".wordpress.com.txt").write_text("body: //article\n", encoding="utf-8")
    mine = load_site_rules(tmp_path).for_host("blog.wordpress.com")
    assert mine is not None and mine.body == ("//article",)


def test_shipped_rules_parse_and_have_a_body_and_test_url() -> None:
    rules = shipped_rules()
    assert len(rules) >= 3
    for rule in rules:
        assert rule.body and rule.test_url, rule.path


def test_a_bad_file_in_the_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "rotto.it.txt").write_text("body: //div[\n", encoding="utf-8")
    with pytest.raises(SiteRuleError, match=r"rotto\.it\.txt, line 1: not a valid XPath"):
        load_site_rules(tmp_path)


def test_shipped_wordpress_rule_extracts_a_post() -> None:
    rule = load_site_rules().for_host("gatti.wordpress.com")
    assert rule is not None
    page = (
        b"<html><body><header><a href='/'>Blog dei gatti</a></header>"
        b"<article><h1 class='entry-title'>Il gatto e la neve</h1>"
        b"<div class='entry-content'><p>Stamattina il gatto ha visto la neve per la prima"
        b" volta e non ha voluto uscire.</p><p>Poi ha cambiato idea.</p>"
        b"<div class='sharedaddy sd-sharing-enabled'><h3>Condividi:</h3><a href='#'>X</a></div>"
        b"<div id='jp-relatedposts' class='jp-relatedposts'><h3>Correlati</h3></div>"
        b"</div></article><footer>Blog su WordPress.com</footer></body></html>"
    )
    found = by_rule(
        page,
        url="https://gatti.wordpress.com/2026/01/neve/",
        charset="utf-8",
        rule=rule,
        fetch=lambda _url: None,
    )
    assert found is not None and found.method == "rule (rassegna) .wordpress.com.txt"
    assert "neve per la prima volta" in found.html and "Poi ha cambiato idea" in found.html
    assert "Condividi" not in found.html and "Correlati" not in found.html


def test_test_contains_belong_to_the_test_url_before_them() -> None:
    text = (
        "body: //article\n"
        "test_url: https://www.esempio.it/a\ntest_contains: il ponte\ntest_contains: Arno\n"
        "test_url: http://www.esempio.it/b\n"
    )
    rule = parse_rule(text, host="esempio.it", path="esempio.it.txt")
    assert rule.tests == (
        ("https://www.esempio.it/a", ("il ponte", "Arno")),
        ("http://www.esempio.it/b", ()),
    )
    assert rule.test_url == ("https://www.esempio.it/a", "http://www.esempio.it/b")
    assert parse_rule(rule.describe(), host="esempio.it", path="copia").tests == rule.tests


BROKEN = """<html><head><title>Prova</title>
<body><div class="barra">Condividi<div itemprop="articleBody"><p>Il consiglio comunale
approva il bilancio<p>La seduta finisce a tarda sera, tra le proteste
<b><i>dell'opposizione</b></i>
</span><div class="adv-riquadro">Pubblicità</div>
<p>Il sindaco annuncia nuovi cantieri per la primavera
</div><div class="correlati"><a href="/x">Leggi anche</a></div>"""


@pytest.mark.parametrize("tidy", ["yes", "no"])
def test_tidy_markup_repairs_are_lxml_s_with_or_without_it(tidy: str) -> None:
    """`tidy: yes` does nothing more than the parser does for every page: unclosed
    paragraphs and divs, misnested and stray end tags, a missing `</head>` and `</html>`
    are repaired, and the body XPath finds the article in the repaired tree."""
    rule = parse_rule(
        f"body: //div[@itemprop='articleBody']\nstrip_id_or_class: adv-\ntidy: {tidy}\n",
        host="esempio.it",
        path="esempio.it.txt",
    )
    assert rule.tidy is (tidy == "yes")
    found = by_rule(
        BROKEN.encode(),
        url="https://esempio.it/a",
        charset="utf-8",
        rule=rule,
        fetch=lambda _url: None,
    )
    assert found is not None
    paragraphs = lxml.html.fragment_fromstring(found.html, create_parent="div").findall(".//p")
    assert [" ".join(p.text_content().split()) for p in paragraphs] == [
        "Il consiglio comunale approva il bilancio",
        "La seduta finisce a tarda sera, tra le proteste dell'opposizione",
        "Il sindaco annuncia nuovi cantieri per la primavera",
    ]
    assert "Pubblicità" not in found.html and "Leggi anche" not in found.html
    assert "Condividi" not in found.html
