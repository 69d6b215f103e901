"""`normalize_vs_ftfy`: the Italian normalizer on every field of an article, against
`ftfy.fix_text` alone on the same text."""

from __future__ import annotations

import ftfy

from bench.corpus import Corpus, SynthArticle
from bench.timing import Figure, at_most, interleaved, ms_each, ratio_figure, stopwatch
from ingest import normalize

ARTICLES = 300
ROUNDS = 7


def normalize_all(article: SynthArticle) -> object:
    """Every normalizer an article's fields go through on ingest."""
    title = normalize.normalize_title(article.title)
    body = normalize.normalize_text(article.body)
    return (
        title,
        normalize.normalize_summary(article.summary),
        body,
        normalize.normalize_authors(", ".join(article.authors)),
        normalize.normalize_tags(list(article.tags)),
        normalize.normalize_title(article.category),
        normalize.parse_date(article.date_text),
        normalize.make_slug(title),
        normalize.reading_time(body),
        normalize.detect_language(body),
    )


def run(corpus: Corpus) -> list[Figure]:
    articles = list(corpus.articles(ARTICLES))
    texts = [a.full_text for a in articles]
    for article in articles[:20]:  # warm caches (regexes, lazy imports) before timing
        normalize_all(article)
        ftfy.fix_text(article.full_text)

    def subject() -> float:
        with stopwatch() as t:
            for article in articles:
                normalize_all(article)
        return t[0]

    def baseline() -> float:
        with stopwatch() as t:
            for text in texts:
                ftfy.fix_text(text)
        return t[0]

    rounds = interleaved([subject, baseline], ROUNDS)
    size = sum(len(t.encode("utf-8")) for t in texts) / len(texts)
    return [
        ratio_figure(
            "normalize_vs_ftfy",
            rounds,
            baseline="ftfy.fix_text (default config) on the same text (title+summary+body)",
            target=at_most(3.0),
            details={
                "articles": ARTICLES,
                "mean_article_bytes": round(size),
                **ms_each(rounds, ARTICLES, ("normalize_ms_per_article", "ftfy_ms_per_article"), 4),
            },
        )
    ]
