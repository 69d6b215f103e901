"""Titles for entries that have none (RSS items with only a description, Atom entries with
an empty title, JSON Feed items with only `content_text`, as social and institutional
feeds publish them), and their identity when they carry no guid and no link.

The title is the first sentence of the text, or its first words cut on a word boundary
with "…" when that sentence is longer than `MAX_TITLE_CHARS`; markup, URLs and the
`@host` part of mentions (`@comune@mastodon.uno` → `@comune`) are removed first.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from urllib.parse import unquote, urlsplit

from ingest import normalize

MAX_TITLE_CHARS = 90
ELLIPSIS = "…"

_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# `@user@host.tld`: the account's server says nothing a reader needs in a title.
_MENTION_HOST_RE = re.compile(r"(@[\w.-]+)@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_SPACES_RE = re.compile(r"\s+")
# A sentence ends at . ! ? or … followed by a space and a capital, digit or quote.
_SENTENCE_END_RE = re.compile(r"([.!?…]+)[\"»”’)]*\s+(?=[\"«“‘(]?[A-ZÀ-ÖØ-Þ0-9])")
# Words after which a full stop does not end the sentence (Italian abbreviations).
_ABBREVIATIONS = frozenset(
    {
        "sig",
        "sigg",
        "sig.ra",
        "dott",
        "dr",
        "prof",
        "avv",
        "ing",
        "on",
        "sen",
        "geom",
        "arch",
        "rag",
        "mons",
        "don",
        "s",
        "ss",
        "st",
        "ecc",
        "es",
        "art",
        "artt",
        "n",
        "nr",
        "pag",
        "pagg",
        "cap",
        "vol",
        "fig",
        "tel",
        "cfr",
        "p",
        "pp",
        "gen",
        "feb",
        "mar",
        "apr",
        "giu",
        "lug",
        "ago",
        "set",
        "ott",
        "nov",
        "dic",
    }
)


def plain_text(text: str) -> str:
    """`text` (plain, one paragraph per line) without URLs and mentions' hosts, on one line."""
    text = _MENTION_HOST_RE.sub(r"\1", text)
    text = _URL_RE.sub(" ", text)
    return _SPACES_RE.sub(" ", text).strip()


def sentences(text: str) -> list[str]:
    """The sentences of `text` (plain, on one line), each without a final full stop."""
    found: list[str] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        before = text[start : match.start()].rsplit(" ", 1)[-1].lower()
        if match.group(1) == "." and (before in _ABBREVIATIONS or len(before) == 1):
            continue  # "Sig. Rossi", "S. Giovanni", "A. Manzoni"
        found.append(_unstopped(text[start : match.end(1)]))
        start = match.end()
    found.append(_unstopped(text[start:]))
    return [s for s in found if s]


def _unstopped(sentence: str) -> str:
    sentence = sentence.strip()
    if sentence.endswith(".") and not sentence.endswith(".."):
        sentence = sentence[:-1].rstrip()
    return sentence


def first_sentence(text: str) -> str:
    """The first sentence of `text` that has a word in it ("" when none has)."""
    return next((s for s in sentences(text) if any(ch.isalnum() for ch in s)), "")


def cut_words(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """`text` when it fits in `limit` characters, else its first words and "…" (in all at
    most `limit` characters); a first word longer than that is cut where it must be."""
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    head = text[: room + 1]
    cut = head.rfind(" ")
    kept = (head[:cut] if cut > 0 else text[:room]).rstrip(" ,;:-–—.")
    return (kept or text[:room].rstrip()) + ELLIPSIS


def title_from_text(text: str) -> str:
    """A title for an entry from its plain text (one paragraph per line); "" when the text
    has no word left once URLs are removed."""
    for paragraph in text.split("\n"):
        sentence = first_sentence(plain_text(paragraph))
        if sentence:
            return cut_words(sentence)
    return ""


def title_from_html(markup: str) -> str:
    """`title_from_text` of an HTML fragment."""
    return title_from_text(normalize.html_to_text(markup)) if markup.strip() else ""


def title_from_link(link: str | None) -> str:
    """A last resort for an entry with a link but no text: the words of the link's last
    path segment (`/2026/03/nuovo-ponte-sul-po` → "Nuovo ponte sul po")."""
    if not link:
        return ""
    parts = urlsplit(link)
    segments = [s for s in parts.path.split("/") if s]
    for segment in reversed(segments):
        words = re.sub(r"\.[a-z0-9]{2,5}$", "", unquote(segment), flags=re.IGNORECASE)
        words = " ".join(re.split(r"[-_+]+", words)).strip()
        if any(ch.isalpha() for ch in words) and not words.isdigit():
            return cut_words(words[:1].upper() + words[1:])
    return parts.hostname or ""


def text_key(text: str, published: datetime | str | None) -> str:
    """The identity of an entry without guid and link: its normalized text and its date."""
    words = " ".join(normalize.normalize_text(text).split())
    when = published.isoformat() if isinstance(published, datetime) else str(published or "")
    payload = f"{words}\n{when}"
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]
