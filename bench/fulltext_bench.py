"""`full_text_vs_trafilatura`: extracting the article of 200 saved pages through our path
(site rule for the host, else the source's content_selector, else trafilatura; then the
URL clean-up and word count) against `trafilatura.extract` alone on the same pages.

The pages are generated from the bench corpus in three shapes Italian news sites use, a
third each: a host with a site rule (body in a div with share bars, inline ads and a
"Leggi anche" box), a host the source's content_selector fits, and a plain `<article>`
page only trafilatura reads."""

from __future__ import annotations

import html

import trafilatura

from bench.corpus import Corpus, SynthArticle
from bench.timing import Figure, at_most, interleaved, ms_each, ratio_figure, stopwatch
from ingest.extract import Selectors, extract_page
from ingest.siterules import SiteRules, parse_rule

PAGES = 200
ROUNDS = 5
RULE = parse_rule(
    "body: //div[@itemprop='articleBody']\n"
    "strip: //div[contains(@class, 'barra-social')]\n"
    "strip_id_or_class: adv-\n"
    "strip_id_or_class: leggi-anche\n",
    host="regola.example.it",
    path="regola.example.it.txt",
)
SELECTORS = Selectors(content="div.testo", strip=(".box-social", ".banner"))
_NAV = "".join(f'<li><a href="/sezione/{n}">Sezione {n}</a></li>' for n in range(30))
_RELATED = "".join(f'<li><a href="/articolo/{n}">Un altro titolo {n}</a></li>' for n in range(8))


def _paragraphs(article: SynthArticle, *, ads: bool) -> str:
    parts: list[str] = []
    for number, paragraph in enumerate(article.paragraphs):
        parts.append(f"<p>{html.escape(paragraph, quote=False)}</p>")
        if ads and number == 1:
            parts.append('<div class="adv-inline" id="adv-1"><span>Pubblicità</span></div>')
        if ads and number == 2:
            parts.append(f'<div class="leggi-anche"><h3>Leggi anche</h3><ul>{_RELATED}</ul></div>')
    return "".join(parts)


def page(article: SynthArticle) -> tuple[str, bytes]:
    """(host, page) of one article, in the shape its index picks."""
    title = html.escape(article.title)
    head = (
        f"<!DOCTYPE html><html lang='it'><head><meta charset='utf-8'><title>{title}</title>"
        "<script>var dataLayer = [];</script></head><body>"
        f"<header><nav><ul>{_NAV}</ul></nav></header>"
    )
    foot = f"<aside><h2>Correlati</h2><ul>{_RELATED}</ul></aside><footer>Testata</footer>"
    shape = article.index % 3
    if shape == 0:
        body = (
            f"<h1>{title}</h1><div class='barra-social'><a href='#'>Condividi</a></div>"
            f"<div itemprop='articleBody'>{_paragraphs(article, ads=True)}</div>"
        )
        host = "regola.example.it"
    elif shape == 1:
        body = (
            f"<h1>{title}</h1><div class='box-social'><a href='#'>Condividi</a></div>"
            f"<div class='testo'>{_paragraphs(article, ads=False)}"
            "<div class='banner'>SPAZIO PUBBLICITARIO</div></div>"
        )
        host = "selettore.example.it"
    else:
        body = f"<main><article><h1>{title}</h1>{_paragraphs(article, ads=False)}</article></main>"
        host = "semplice.example.it"
    return host, (head + body + foot + "</body></html>").encode("utf-8")


def run(corpus: Corpus) -> list[Figure]:
    pages = [page(a) for a in corpus.articles(PAGES)]
    urls = [f"https://{host}/articolo/{n}" for n, (host, _) in enumerate(pages)]
    rules = SiteRules({RULE.host: RULE})

    def ours() -> float:
        with stopwatch() as t:
            for url, (host, data) in zip(urls, pages, strict=True):
                found, _rule = extract_page(
                    data,
                    url=url,
                    charset="utf-8",
                    rules=rules,
                    selectors=SELECTORS if host != "semplice.example.it" else Selectors(),
                    fetch=lambda _url: None,
                    host=host,
                )
                assert found is not None and found.words > 50
        return t[0]

    def alone() -> float:
        with stopwatch() as t:
            for url, (_host, data) in zip(urls, pages, strict=True):
                found = trafilatura.extract(
                    data.decode("utf-8"),
                    url=url,
                    output_format="html",
                    include_links=True,
                    include_images=True,
                )
                assert found
        return t[0]

    ours()  # warm lazy imports and compiled selectors before timing
    alone()
    rounds = interleaved([ours, alone], ROUNDS)
    size = sum(len(data) for _, data in pages) / len(pages)
    return [
        ratio_figure(
            "full_text_vs_trafilatura",
            rounds,
            baseline="trafilatura.extract (HTML output, links and images) alone on the same pages",
            target=at_most(1.3),
            details={
                "pages": PAGES,
                "mean_page_bytes": round(size),
                **ms_each(rounds, PAGES, ("ours_ms_per_page", "trafilatura_ms_per_page"), 3),
            },
        )
    ]
