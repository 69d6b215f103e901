"""A deterministic synthetic Italian news corpus (fixed seed), written for the benchmarks.

Articles are about 2 KB of UTF-8 text with accents, elisions and apostrophes; some carry
the damage real feeds carry: mojibake (``perchÃ©``), accents typed as apostrophes
(``citta'``), curly quotes and typographic apostrophes. Every sentence is assembled from
the word lists of `corpus_words.toml` (written for this suite), so the corpus is the same
on every run and every machine.
"""

from __future__ import annotations

import html
import json
import random
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

SEED = 20240611
TARGET_BODY_BYTES = 1900
BASE_DATE = datetime(2024, 6, 1, 6, 0, tzinfo=UTC)

WORDS_FILE = Path(__file__).with_name("corpus_words.toml")


def _load_words() -> Mapping[str, tuple[Any, ...]]:
    """The word lists of `WORDS_FILE` (data, not code), read once at import, each as a
    tuple (pairs too)."""
    loaded = tomllib.loads(WORDS_FILE.read_text(encoding="utf-8"))
    return MappingProxyType(
        {
            key: tuple(tuple(word) if isinstance(word, list) else word for word in words)
            for key, words in loaded.items()
        }
    )


_WORDS = _load_words()
CATEGORIES: tuple[str, ...] = _WORDS["categories"]
TAGS: tuple[str, ...] = _WORDS["tags"]
AUTHORS: tuple[str, ...] = _WORDS["authors"]


def mojibake(text: str) -> str:
    """`text` as UTF-8 bytes wrongly read as Windows-1252 (``perché`` -> ``perchÃ©``)."""
    return text.encode("utf-8").decode("cp1252", errors="replace")


@dataclass(frozen=True, slots=True)
class SynthArticle:
    """One generated article, before it is written in any format."""

    index: int
    title: str
    summary: str
    paragraphs: tuple[str, ...]
    category: str
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    published: datetime
    date_text: str  # how the article states its date (ISO or Italian words)

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def full_text(self) -> str:
        """Every text field, as one string (the ftfy baseline runs on this)."""
        return "\n".join((self.title, self.summary, *self.paragraphs))

    @property
    def url(self) -> str:
        return f"https://notizie.example.it/{self.index:07d}"

    @property
    def content_html(self) -> str:
        return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in self.paragraphs)


class Corpus:
    """Articles generated from a fixed seed: `article(i)` is the same on every run."""

    def __init__(self, seed: int = SEED) -> None:
        self.seed = seed

    def article(self, index: int) -> SynthArticle:
        rng = random.Random(self.seed * 1_000_003 + index)
        damage = rng.random()
        paragraphs: list[str] = []
        size = 0
        while size < TARGET_BODY_BYTES:
            paragraph = " ".join(self._sentence(rng) for _ in range(rng.randint(2, 4)))
            paragraphs.append(paragraph)
            size += len(paragraph.encode("utf-8")) + 1
        if damage < 0.15:
            at = rng.randrange(len(paragraphs))
            paragraphs[at] = mojibake(paragraphs[at])
        elif damage < 0.35:
            at = rng.randrange(len(paragraphs))
            for right, wrong in _WORDS["apostrophe_accents"]:
                paragraphs[at] = paragraphs[at].replace(f" {right} ", f" {wrong} ")
        elif damage < 0.55:
            paragraphs = [p.replace("'", "\u2019") for p in paragraphs]
        head, tail = rng.choice(_WORDS["title_heads"]), rng.choice(_WORDS["title_tails"])
        title = f"{head} {tail}"
        if rng.random() < 0.1:
            title = mojibake(title + ", perché ora è più urgente")
        summary = self._sentence(rng)
        published = BASE_DATE - timedelta(minutes=7 * index + rng.randint(0, 6))
        local = published + timedelta(hours=2)
        if rng.random() < 0.5:
            date_text = published.isoformat()
        else:
            month = _WORDS["months"][local.month - 1]
            date_text = f"{local.day} {month} {local.year}, ore {local.hour:02d}:{local.minute:02d}"
        return SynthArticle(
            index=index,
            title=f"{title} ({index})",
            summary=summary,
            paragraphs=tuple(paragraphs),
            category=CATEGORIES[index % len(CATEGORIES)],
            tags=tuple(rng.sample(TAGS, rng.randint(1, 4))),
            authors=tuple(rng.sample(AUTHORS, rng.randint(1, 2))),
            published=published,
            date_text=date_text,
        )

    def articles(self, count: int, start: int = 0) -> Iterator[SynthArticle]:
        for index in range(start, start + count):
            yield self.article(index)

    @staticmethod
    def _sentence(rng: random.Random) -> str:
        if rng.random() < 0.12:
            quote = rng.choice(_WORDS["quotes"])
            return f"\u201c{quote}\u201d, ha detto {rng.choice(AUTHORS)}."
        subject, verb, what, place, tail = (
            rng.choice(_WORDS[part]) for part in ("subjects", "verbs", "objects", "places", "tails")
        )
        return f"{subject} {verb} {what} {place}{tail}."


# -- files -----------------------------------------------------------------------------------


def txt_text(article: SynthArticle) -> str:
    """The sample `.txt` format: title, standfirst, blank line, one paragraph per line."""
    return f"{article.title}\n{article.summary}\n\n{article.body}\n"


def md_text(article: SynthArticle) -> str:
    """A Markdown article with YAML front matter (JSON strings are valid YAML scalars)."""

    def q(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    front = [
        "---",
        f"title: {q(article.title)}",
        f"date: {q(article.date_text)}",
        f"authors: [{', '.join(q(a) for a in article.authors)}]",
        f"category: {q(article.category)}",
        f"tags: [{', '.join(q(t) for t in article.tags)}]",
        f"summary: {q(article.summary)}",
        f"url: {q(article.url)}",
        "---",
        "",
    ]
    return "\n".join(front) + "\n\n".join(article.paragraphs) + "\n"


def write_files(
    corpus: Corpus, folder: Path, count: int, *, start: int = 0, md_every: int = 3
) -> int:
    """Write `count` articles into `folder` (subfolders of 500): every `md_every`-th one as
    Markdown, the others as `.txt`. Returns the bytes written."""
    total = 0
    for article in corpus.articles(count, start):
        sub = folder / f"lotto-{article.index // 500:04d}"
        sub.mkdir(parents=True, exist_ok=True)
        if md_every and article.index % md_every == 0:
            data = md_text(article).encode("utf-8")
            name = f"articolo-{article.index:07d}.md"
        else:
            data = txt_text(article).encode("utf-8")
            name = f"articolo-{article.index:07d}.txt"
        (sub / name).write_bytes(data)
        total += len(data)
    return total


# -- feeds -----------------------------------------------------------------------------------


def rss_item(article: SynthArticle) -> str:
    e = html.escape
    categories = "".join(f"<category>{e(t)}</category>" for t in article.tags)
    creators = "".join(f"<dc:creator>{e(a)}</dc:creator>" for a in article.authors)
    return (
        "<item>"
        f"<title>{e(article.title)}</title>"
        f"<link>{article.url}</link>"
        f'<guid isPermaLink="false">urn:bench:{article.index}</guid>'
        f"<pubDate>{format_datetime(article.published)}</pubDate>"
        f"{creators}{categories}"
        f"<description>{e(article.summary)}</description>"
        f"<content:encoded>{e(article.content_html)}</content:encoded>"
        "</item>\n"
    )


def rss_document(corpus: Corpus, count: int | None = None, *, min_bytes: int = 0) -> bytes:
    """An RSS 2.0 document of `count` items, or of as many as make `min_bytes`."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
        "<title>Notizie di prova</title><link>https://notizie.example.it/</link>"
        "<description>Un feed sintetico per i benchmark</description><language>it</language>\n"
    )
    parts = [head]
    size = len(head)
    index = 0
    while (count is not None and index < count) or (count is None and size < min_bytes):
        item = rss_item(corpus.article(index))
        parts.append(item)
        size += len(item.encode("utf-8"))
        index += 1
    parts.append("</channel>\n</rss>\n")
    return "".join(parts).encode("utf-8")
