"""Fuzzing the ingest of feed bytes with hypothesis, through the real path: parse
(feedparser / JSON) → normalize (`to_draft`) → store (a real SQLite file) → build
(the three formats) → read back. For any bytes: nothing raises but a clean IngestError,
every stored article is complete, and every published feed parses.

`make test` tries FUZZ_EXAMPLES (60) inputs per strategy; `make stress` 2,000.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.records import SourceSpec
from db.store import Store
from feeds.build import build_feeds
from feeds.site import SiteInfo
from ingest.collect import Drafting, collect_feed
from ingest.errors import IngestError
from ingest.fetch import Response
from ingest.pipeline import IngestReport
from ingest.remote_store import store_drafts
from tests.reliability_helpers import assert_output_valid

STRESS = bool(os.environ.get("RASSEGNA_STRESS"))
FUZZ_EXAMPLES = int(os.environ.get("RASSEGNA_FUZZ_EXAMPLES", "2000" if STRESS else "60"))
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)
_tags = st.sampled_from(
    [
        "rss",
        "channel",
        "item",
        "title",
        "link",
        "guid",
        "description",
        "pubDate",
        "feed",
        "entry",
        "id",
        "content",
        "summary",
        "updated",
        "author",
        "category",
        "p",
        "script",
        "a",
        "img",
        "b",
        "content:encoded",
        "!DOCTYPE",
        "![CDATA[",
    ]
)
_pieces = st.one_of(
    _text.map(lambda t: t.replace("<", "&lt;")),
    _tags.map(lambda t: f"<{t}>"),
    _tags.map(lambda t: f"</{t}>"),
    st.sampled_from(
        [
            "&amp;",
            "&#0;",
            "&#xD800;",
            "&#" + "9" * 5000 + ";",
            "&bogus;",
            "]]>",
            "<?xml",
            "\x00",
            "\ufeff",
            'href="javascript:alert(1)"',
            "<a href='/rel'>",
            "Mon, 02 Nov 2026 10:00 +0100",
            "0000-00-00",
            "31/12/9999",
        ]
    ),
)


@st.composite
def feedish(draw: st.DrawFn) -> bytes:
    """Bytes that look like a feed more or less: a valid skeleton with random pieces."""
    pieces = "".join(draw(st.lists(_pieces, max_size=40)))
    kind = draw(st.sampled_from(["rss", "atom", "json", "raw"]))
    if kind == "rss":
        document = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>F</title>'
            f"<item><title>T {pieces}</title><guid>g</guid><description>{pieces}</description>"
            f"</item>{pieces}</channel></rss>"
        )
    elif kind == "atom":
        document = (
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><entry><id>e</id>'
            f'<title>{pieces}</title><content type="html">{pieces}</content></entry></feed>'
        )
    elif kind == "json":
        document = (
            '{"version": "https://jsonfeed.org/version/1.1", "title": "F", "items": [{"id": "1",'
            f' "title": {pieces!r}, "content_html": {pieces!r}}}]}}'
        )
    else:
        document = pieces
    data = document.encode("utf-8", "surrogatepass")
    encoding = draw(st.sampled_from(["keep", "cp1252", "utf-16", "truncate", "bitflip"]))
    if encoding == "cp1252":
        data = document.encode("cp1252", "replace")
    elif encoding == "utf-16":
        data = document.encode("utf-16")
    elif encoding == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif encoding == "bitflip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    return data


def _ingest(store: Store, out: Path, data: bytes) -> None:
    try:
        collected = collect_feed(Response.bare("http://example.org/feed", data), Drafting(NOW))
    except IngestError as exc:
        assert exc.message.startswith("http://example.org/feed: ") and "\n" not in exc.message
        return
    source_id = store.ensure_source(SourceSpec("Fuzz", "feed", "http://example.org/feed"))
    report = IngestReport(source="Fuzz")
    store_drafts(store, source_id, collected, report, now=NOW, source_name="Fuzz")
    for article in store.latest_articles(1000):
        assert article.title.strip() and article.published is not None
    build_feeds(store, SiteInfo("Fuzz", "http://127.0.0.1/", "http://127.0.0.1/"), out, fsync=False)
    assert_output_valid(out)


@FUZZ
@given(data=feedish())
def test_fuzz_feedish_bytes(store: Store, tmp_path: Path, data: bytes) -> None:
    _ingest(store, tmp_path / "public", data)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_fuzz_random_bytes(store: Store, tmp_path: Path, data: bytes) -> None:
    _ingest(store, tmp_path / "public", data)
