"""Tracking parameters (`ingest.tracking`): the URL cleaner's properties under hypothesis,
and a real feed served over loopback whose article is the same article with or without
them (`[ingest] strip_tracking`), with the links of its content cleaned too."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from db.records import SourceSpec
from db.store import Store
from ingest.fetch import Fetcher
from ingest.remote import RemoteOptions, ingest_remote_source
from ingest.tracking import is_tracking, strip_tracking, strip_tracking_id
from ingest.urls import canonical_url
from tests.remote_helpers import policy, rss

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)

_name_chars = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-.")
_value_chars = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEF0123456789-._~%+/:")
plain_names = st.text(_name_chars, min_size=1, max_size=12).filter(lambda n: not is_tracking(n))
tracking_names = st.one_of(
    st.sampled_from(["fbclid", "gclid", "mc_cid", "mc_eid", "FBCLID", "xtor", "_ga", "ocid"]),
    st.builds(lambda s: "utm_" + s, st.text(_name_chars, min_size=1, max_size=8)),
    st.builds(lambda s: "UTM_" + s, st.text(_name_chars, min_size=1, max_size=8)),
)
values = st.text(_value_chars, max_size=12)
plain_fields = st.lists(
    st.one_of(st.builds(lambda k, v: f"{k}={v}", plain_names, values), plain_names), max_size=5
)
tracking_fields = st.lists(st.builds(lambda k, v: f"{k}={v}", tracking_names, values), max_size=4)
bases = st.sampled_from(
    [
        "https://www.esempio.it/cronaca/2026/03/01/articolo",
        "http://giornale.example/notizia.html",
        "https://esempio.it/",
    ]
)
fragments = st.one_of(st.just(""), st.sampled_from(["#commenti", "#p2", "#xtor=RSS-3"]))


@given(bases, plain_fields, tracking_fields, st.randoms(use_true_random=False), fragments)
def test_only_tracking_fields_leave_and_the_rest_keeps_its_spelling_and_order(
    base: str, plain: list[str], tracked: list[str], rnd: random.Random, fragment: str
) -> None:
    mixed = plain + tracked
    rnd.shuffle(mixed)
    url = base + ("?" + "&".join(mixed) if mixed else "") + fragment
    cleaned = strip_tracking(url)
    kept = [f for f in mixed if not is_tracking(f.partition("=")[0])]
    expected_fragment = "" if fragment.startswith("#xtor") else fragment
    expected_query = "?" + "&".join(kept) if kept and tracked else ""
    if not tracked:  # nothing to remove: the very same string
        expected_query = "?" + "&".join(mixed) if mixed else ""
    assert cleaned == base + expected_query + expected_fragment
    assert strip_tracking(cleaned) == cleaned  # idempotent
    for field in cleaned.partition("?")[2].partition("#")[0].split("&"):
        assert not field or not is_tracking(field.partition("=")[0])


@given(bases, plain_fields, tracking_fields)
def test_identity_is_the_same_with_or_without_tracking(
    base: str, plain: list[str], tracked: list[str]
) -> None:
    bare = base + ("?" + "&".join(plain) if plain else "")
    noisy = base + "?" + "&".join(plain + tracked) if plain or tracked else base
    assert canonical_url(noisy) == canonical_url(bare)
    assert strip_tracking_id(noisy) == strip_tracking(noisy)


def test_ids_that_are_not_urls_stay_as_they_are() -> None:
    assert (
        strip_tracking_id("tag:esempio.it,2026:utm_source=1") == "tag:esempio.it,2026:utm_source=1"
    )
    assert strip_tracking_id("https://e.it/a?id=7&utm_medium=rss") == "https://e.it/a?id=7"
    assert strip_tracking("https://e.it/a?fbclid=x#utm_source=y") == "https://e.it/a"
    assert strip_tracking("https://e.it/a?ref=home&%75tm_source=z") == "https://e.it/a?ref=home"


def _item(campaign: str) -> str:
    link = f"https://www.esempio.it/cronaca/sindaco?id=42&amp;utm_source={campaign}&amp;fbclid=Q"
    return (
        f"<item><title>Il sindaco inaugura la nuova biblioteca</title>"
        f"<link>{link}</link><guid>{link}</guid>"
        "<pubDate>Sun, 01 Mar 2026 05:00:00 GMT</pubDate>"
        "<description><![CDATA[<p>La biblioteca di quartiere apre lunedi. "
        f'<a href="https://www.esempio.it/orari?utm_campaign={campaign}&amp;mc_eid=7">Gli '
        "orari</a>.</p>]]></description></item>"
    )


def _ingest(store: Store, url: str, now: datetime, *, strip: bool) -> int:
    spec = SourceSpec(name="Fonte", kind="feed", location=url, interval_seconds=600)
    with Fetcher(policy()) as fetcher:
        report = ingest_remote_source(
            store, spec, fetcher, options=RemoteOptions(strip_tracking=strip), now=now
        )
    assert report.error is None
    return report.new


def test_a_rotating_campaign_is_one_article_and_leaves_every_link(
    httpserver: HTTPServer, any_store: Store
) -> None:
    url = httpserver.url_for("/feed.xml")
    httpserver.expect_ordered_request("/feed.xml").respond_with_data(rss(_item("lunedi")))
    httpserver.expect_ordered_request("/feed.xml").respond_with_data(rss(_item("martedi")))
    assert _ingest(any_store, url, T0, strip=True) == 1
    assert _ingest(any_store, url, T0 + timedelta(hours=1), strip=True) == 0
    [article] = any_store.latest_articles(10)
    assert article.guid == "https://www.esempio.it/cronaca/sindaco?id=42"
    assert article.url == "https://www.esempio.it/cronaca/sindaco?id=42"
    assert 'href="https://www.esempio.it/orari"' in article.content_html
    assert "utm_" not in article.content_html and "mc_eid" not in article.content_html


def test_strip_tracking_false_keeps_them(httpserver: HTTPServer, store: Store) -> None:
    url = httpserver.url_for("/feed.xml")
    httpserver.expect_request("/feed.xml").respond_with_data(rss(_item("lunedi")))
    assert _ingest(store, url, T0, strip=False) == 1
    [article] = store.latest_articles(10)
    assert article.url is not None and "utm_source=lunedi" in article.url
    assert "utm_campaign=lunedi" in article.content_html
