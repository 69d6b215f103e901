"""The normalizer pool: the same stored rows as one process, and nothing lost to a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.records import SourceSpec
from db.store import Store
from ingest.article import DraftRules
from ingest.feed import FeedLimits, parse_feed
from ingest.fetch import Fetcher, FetchPolicy
from ingest.pipeline import ingest_files_source
from ingest.pool import DraftPool
from ingest.raw import RawArticle
from ingest.remote import RemoteOptions, ingest_remote_source
from ingest.remote_store import BATCH_SIZE, entry_batches
from ingest.rules import SourceRules, make_rule

WORDS = [
    "il",
    "sindaco",
    "della",
    "città",
    "ha",
    "presentato",
    "perché",
    "così",
    "la",
    "giunta",
    "regionale",
    "ciò",
    "nonostante",
    "l'assessore",
    "università",
    "qualità",
    "dell'aria",
    "perche'",
    "citta'",
    "più",
    "già",
    "è",
    "stato",
]


def spec(folder: Path) -> SourceSpec:
    return SourceSpec(name="Prova", kind="files", location=str(folder), category="Cronaca")


@pytest.fixture(scope="module")
def pool() -> Iterator[DraftPool]:
    # Every batch on the workers, however small, so short generated folders use them.
    with DraftPool(2, min_batch=1) as shared:
        yield shared


sentence = st.lists(st.sampled_from(WORDS), min_size=3, max_size=14).map(
    lambda words: " ".join(words).capitalize() + "."
)
article = st.tuples(
    st.sampled_from(["txt", "md", "empty"]),
    sentence,
    st.lists(sentence, min_size=1, max_size=4),
)


def write_folder(folder: Path, articles: list[tuple[str, str, list[str]]]) -> None:
    folder.mkdir()
    for n, (kind, title, paragraphs) in enumerate(articles):
        if kind == "empty":
            (folder / f"{n:03d}.txt").write_bytes(b"")
        elif kind == "md":
            text = f'---\ntitle: "{title}"\ntags: [comune]\n---\n' + "\n\n".join(paragraphs)
            (folder / f"{n:03d}.md").write_text(text + "\n", encoding="utf-8")
        else:
            text = title + "\n" + paragraphs[0] + "\n\n" + "\n".join(paragraphs)
            (folder / f"{n:03d}.txt").write_text(text + "\n", encoding="utf-8")
        os.utime(
            folder / f"{n:03d}.{'md' if kind == 'md' else 'txt'}",
            ns=(1, 1_700_000_000_000_000_000 + n * 10**9),
        )


def stored(store: Store) -> list[object]:
    return [
        (
            a.guid,
            a.title,
            a.summary,
            a.content_html,
            a.content_text,
            a.language,
            a.slug,
            a.published,
            a.category,
            a.tags,
            a.authors,
        )
        for a in store.latest_articles(1000)
    ]


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(article, min_size=1, max_size=40))
def test_pool_stores_the_same_rows_as_one_process(
    pool: DraftPool, articles: list[tuple[str, str, list[str]]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articoli"
        write_folder(folder, articles)
        results = []
        for which, used in (("one", None), ("pool", pool)):
            store = Store.open(f"sqlite:///{tmp}/{which}.db")
            try:
                report = ingest_files_source(store, spec(folder), pool=used)
                results.append((report.new, sorted(str(p) for p in report.problems), stored(store)))
            finally:
                store.close()
        assert results[0] == results[1]
        assert results[0][0] == sum(1 for kind, _, _ in articles if kind != "empty")
    assert pool.worker_pids()


def test_a_killed_worker_loses_no_article(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "articoli"
    articles = [
        ("txt", f"Il sindaco parla {n} volte.", ["La giunta decide così."]) for n in range(120)
    ]
    write_folder(folder, articles)
    with DraftPool(2, min_batch=1) as pool:
        pool.normalize([], timezone="Europe/Rome", category=None, rules=None)  # nothing: no pool
        assert pool.worker_pids() == []
        # Start the workers with one real batch, then kill one of them.
        ingest_files_source(store, spec(folder), only=folder / "000.txt", pool=pool)
        victim = pool.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(victim, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        report = ingest_files_source(store, spec(folder), pool=pool)
        assert victim not in pool.worker_pids()
    assert (report.problems, report.new, report.unchanged_files) == ([], 119, 1)
    assert len(store.latest_articles(1000)) == 120
    assert "a worker died" in caplog.text


_OWNER = """
import sys
from ingest.pool import DraftPool
from ingest.raw import RawArticle
from ingest.remote_store import BATCH_SIZE, entry_batches
from ingest.raw import RawArticle

pool = DraftPool(2, min_batch=1)
batch = [RawArticle(guid=str(n), origin="prova", title=f"Il sindaco parla {n} volte")
         for n in range(8)]
pool.normalize(batch, timezone="Europe/Rome", category=None, rules=None)
print(" ".join(map(str, pool.worker_pids())), flush=True)
sys.stdin.read()
"""


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\tZ (zombie)" not in status  # a zombie has ended; its new parent reaps it


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_workers_end_when_their_owner_is_killed() -> None:
    """SIGKILL gives the owner no chance to shut the pool down: its workers must notice
    and end by themselves instead of waiting for tasks forever (and holding the owner's
    stdout and stderr open, which keeps a supervisor or a pipe reader waiting)."""
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    workers = [int(pid) for pid in owner.stdout.readline().split()]
    assert workers and all(_running(pid) for pid in workers)
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 20
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _running(pid)]


def test_one_process_starts_no_worker(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "articoli"
    write_folder(folder, [("md", "Titolo della prova.", ["Il sindaco della città."])] * 70)
    with DraftPool(1) as pool:
        report = ingest_files_source(store, spec(folder), pool=pool)
        assert pool.worker_pids() == []
    assert report.new == 70


def _rss(count: int) -> bytes:
    items = "".join(
        f"<item><title>Il consiglio approva la delibera {n}</title>"
        f"<link>https://www.esempio.it/articoli/{n}</link><guid>voce-{n}</guid>"
        f"<pubDate>Tue, 02 Jun 2026 {n % 24:02d}:00:00 +0200</pubDate>"
        "<category>Cronaca</category>"
        f"<description>&lt;p&gt;La giunta ha presentato perch&amp;eacute; il piano {n} "
        "&amp;egrave; cos&amp;igrave; importante per la citt&amp;agrave;.&lt;/p&gt;</description>"
        "</item>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Prova</title><link>https://www.esempio.it/</link>{items}</channel></rss>"
    ).encode()


def _feed_in_one_process_and_on_the_pool(
    tmp_path: Path, pool: DraftPool, rules: DraftRules | None = None
) -> list[tuple[object, ...]]:
    """A 150-entry feed ingested into a new store in this process, then into another
    with `pool`: (new, blocked, problems, stored rows) of each."""
    feed = tmp_path / "feed.xml"
    feed.write_bytes(_rss(150))
    source = SourceSpec(name="Feed", kind="feed", location=str(feed), category="Cronaca")
    results: list[tuple[object, ...]] = []
    for which, used in (("one", None), ("pool", pool)):
        store = Store.open(f"sqlite:///{tmp_path}/{which}.db")
        try:
            with Fetcher(FetchPolicy(user_agent="rassegna-test")) as fetcher:
                report = ingest_remote_source(
                    store, source, fetcher, options=RemoteOptions(pool=used, rules=rules)
                )
            results.append((report.new, report.blocked, report.problems, stored(store)))
        finally:
            store.close()
    return results


def test_feed_entries_on_the_pool_store_the_same_rows(tmp_path: Path, pool: DraftPool) -> None:
    results = _feed_in_one_process_and_on_the_pool(tmp_path, pool)
    assert results[0][:2] == (150, 0)
    assert results[0] == results[1]


def test_keep_block_verdicts_on_the_pool_are_those_of_one_process(
    tmp_path: Path, pool: DraftPool
) -> None:
    # The workers screen the drafts (DraftRules.kept_out with the ingest's clock): a regex
    # rule and a rule of plain words block the same entries as in one process.
    block = (
        make_rule("rules[0]", "block", patterns={"title": r"delibera 1\d\b"}),
        make_rule("rules[1]", "block", patterns={"text": "piano 42"}),
    )
    rules = DraftRules(filters=SourceRules(block=block))
    results = _feed_in_one_process_and_on_the_pool(tmp_path, pool, rules)
    assert results[0][:2] == (139, 11)
    assert results[0] == results[1]


def test_a_big_feed_cut_into_pieces_reads_the_same_on_the_workers(pool: DraftPool) -> None:
    """The pieces of a big document, read by feedparser on the workers, give exactly the
    entries, flags and channel data of the same pieces read here, and of a whole parse."""
    data = _rss(230).replace(b"voce-7<", b"voce-3<")  # a repeated guid: identified by link
    url, now = "https://www.esempio.it/feed.xml", datetime(2026, 6, 3, tzinfo=UTC)
    whole = parse_feed(data, url=url, now=now)
    pieces = FeedLimits(stream_min_bytes=0, chunk_items=9)
    here = parse_feed(data, url=url, now=now, limits=pieces)
    there = parse_feed(data, url=url, now=now, pool=pool, limits=pieces)
    assert there == here == whole
    assert there.identity == "link" and len(there.entries) == 230
    assert pool.worker_pids()


@pytest.mark.parametrize(
    "spoil",
    [
        lambda data: data.replace(
            b"<item><title>Il consiglio approva la delibera 200<",
            b'<item xml:base="/x/"><title>Il consiglio approva la delibera 200<',
        ),
        lambda data: data[:-30],
    ],
    ids=["xml-base-late", "truncated"],
)
def test_a_document_found_uncuttable_late_reads_as_a_whole_parse(
    pool: DraftPool, spoil: Callable[[bytes], bytes]
) -> None:
    """Pieces go to the workers while the rest is cut: a document the cut refuses only
    near its end (xml:base on a late item, not well-formed) has had pieces read already,
    and is read whole all the same, as without the pool."""
    data = spoil(_rss(230))
    url, now = "https://www.esempio.it/feed.xml", datetime(2026, 6, 3, tzinfo=UTC)
    whole = parse_feed(data, url=url, now=now)
    pieces = FeedLimits(stream_min_bytes=0, chunk_items=9)
    assert parse_feed(data, url=url, now=now, pool=pool, limits=pieces) == whole
    assert len(whole.entries) >= 200


def test_a_big_feed_ends_with_a_small_batch() -> None:
    """The last batch of a feed is stored when the workers have nothing left to do: with a
    pool it is its least batch, and every other batch is at least that big too."""
    now = datetime(2026, 6, 3, tzinfo=UTC)

    def sizes(count: int, last: int) -> list[int]:
        raws = [RawArticle(guid=str(n), title="t", origin="o") for n in range(count)]
        return [len(batch) for batch in entry_batches(raws, now, last=last)]

    assert sizes(1000, 0) == [BATCH_SIZE] * 5
    assert sizes(1000, 64) == [BATCH_SIZE] * 4 + [BATCH_SIZE - 64, 64]
    assert sizes(230, 64) == [166, 64]
    assert sizes(127, 64) == [127]
    assert sizes(0, 64) == []


def test_stream_hands_back_every_batch_in_order(pool: DraftPool) -> None:
    """Batches come back in their order, each with its own results."""
    batches = [list(range(n, n + size)) for n, size in ((0, 40), (40, 3), (43, 70), (113, 1))]
    got = list(pool.stream(_squares, iter(batches), chunk=7))
    assert [b for b, _ in got] == batches
    assert [r for _, r in got] == [[x * x for x in b] for b in batches]


def _squares(numbers: Sequence[int]) -> list[int]:
    return [n * n for n in numbers]
