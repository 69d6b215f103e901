"""The floor under two ingest figures: the parts of the work no implementation of this
design can skip, each timed on its own, with nothing of ours around them.

`ingest_vs_raw_insert` and `feed_ingest_vs_feedparser` compare the whole pipeline with a
baseline that does none of the Italian normalization the project exists for. What a
pipeline must still do for each article, however it is written:

- read and parse the source (the file and its front matter and Markdown; or the feed,
  with feedparser, the required feed parser, called as the pipeline calls it);
- one pass of the normalizer (T1-T15) over the title, the standfirst and the body text;
- decide the language (the Italian-only rules depend on it) where none is declared;
- compute the text the search index stores for the title, standfirst and body;
- sanitize the HTML of a body that has markup (nh3, the one call that makes it safe).

Other markup work (normalizing the HTML's text nodes), duplicate checks,
hashes and the SQL layer are left out: the floor is a lower bound. For files, the rows
must still be written: the floor adds the baseline itself (reading the files and
`executemany` of the same rows), and its own parse part starts from bytes already read.
For a feed, writing the rows is left out too.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from db.analysis import index_text
from ingest import normalize
from ingest.article import sanitize_html
from ingest.feed import feedparser_parse
from ingest.files import FoundFile, read_article
from ingest.raw import RawArticle

Parts = dict[str, float]


Fields = tuple[str, str, str, str]
"""An article's title, standfirst, body text and body HTML ("" when it has none)."""


def _fields(raw: RawArticle) -> Fields:
    if raw.body_html is None:
        return raw.title, raw.summary or "", raw.body_text or "", ""
    return (
        raw.title,
        raw.summary or "",
        normalize.extract_html_text(raw.body_html),
        raw.body_html,
    )


def _timed(parts: Parts, name: str, work: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = work()
    parts[name] = parts.get(name, 0.0) + time.perf_counter() - start
    return result


def _text_parts(parts: Parts, fields: Sequence[Fields]) -> None:
    normalized = _timed(
        parts,
        "normalize_one_pass_s",
        lambda: [
            (
                normalize.normalize_title(title),
                normalize.normalize_summary(summary),
                normalize.normalize_text(body),
            )
            for title, summary, body, _ in fields
        ],
    )
    _timed(
        parts,
        "detect_language_s",
        lambda: [normalize.detect_language(body or title) for title, _, body, _ in fields],
    )
    _timed(parts, "sanitize_s", lambda: [sanitize_html(html) for *_, html in fields if html])
    _timed(
        parts,
        "index_text_s",
        lambda: [[index_text(text) for text in texts] for texts in normalized],
    )


def files_floor(root: Path, files: Sequence[Path]) -> Parts:
    """The floor's parts for ingesting `files` (seconds each), reading them excepted (the
    baseline reads them)."""
    parts: Parts = {}
    read = []
    for path in files:
        st = path.stat()
        found = FoundFile(path, path.relative_to(root).as_posix(), st.st_mtime_ns, st.st_size)
        read.append((found, path.read_bytes()))
    fields = _timed(
        parts, "parse_s", lambda: [_fields(read_article(found, data)) for found, data in read]
    )
    _text_parts(parts, fields)
    return parts


def feed_floor(data: bytes) -> Parts:
    """The floor's parts for ingesting the feed document `data` (seconds each)."""
    parts: Parts = {}

    def read_parse() -> list[Fields]:
        document = feedparser_parse(data)
        fields = []
        for entry in document.entries:
            contents = entry.get("content") or []
            body = str(contents[0].get("value") or "") if contents else ""
            fields.append(
                (
                    normalize.extract_html_text(str(entry.get("title") or "")),
                    normalize.extract_html_text(str(entry.get("summary") or "")),
                    normalize.extract_html_text(body),
                    body,
                )
            )
        return fields

    fields = _timed(parts, "parse_s", read_parse)
    _text_parts(parts, fields)
    return parts


def summary(
    samples: Sequence[Parts], baseline_s: float, target: float, *, plus_baseline: bool
) -> dict[str, Any]:
    """Median of each part over the rounds, the floor (their sum, plus the baseline's
    median time when `plus_baseline`), and the budget the target allows (`target` x the
    baseline's median time)."""
    names = list(samples[0])
    medians = {name: statistics.median(s[name] for s in samples) for name in names}
    total = sum(medians.values()) + (baseline_s if plus_baseline else 0.0)
    return {
        **{name: round(value, 4) for name, value in medians.items()},
        "floor_s": round(total, 4),
        "budget_at_target_s": round(target * baseline_s, 4),
        "floor_vs_baseline": round(total / baseline_s, 2),
    }
