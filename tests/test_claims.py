"""Claiming due sources with leases: each due source goes to one daemon, a dead daemon's
sources are taken over after the lease, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from db.records import SourceSpec
from db.schedule import JITTER_CAP, jittered
from db.store import Store

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
LEASE = 300
"""A lease longer than the steps of the tests where no lease is the subject."""


def at(seconds: int) -> datetime:
    """The moment `seconds` after `T0`."""
    return T0 + timedelta(seconds=seconds)


def make_sources(store: Store, count: int, interval: int = 60) -> list[str]:
    names = [f"fonte-{i:03}" for i in range(count)]
    for name in names:
        store.ensure_source(SourceSpec(name, "feed", f"https://x.invalid/{name}", None, interval))
    return names


def test_a_due_source_goes_to_one_owner_until_recorded(any_store: Store) -> None:
    names = make_sources(any_store, 3)
    first = any_store.claim_due("a:1", names, now=T0, lease_seconds=LEASE)
    assert sorted(first) == names
    assert any_store.claim_due("b:2", names, now=at(10), lease_seconds=LEASE) == []
    source_id = any_store.ensure_source(
        SourceSpec("fonte-000", "feed", "https://x.invalid/fonte-000", None, 60)
    )
    any_store.record_fetch(source_id, error=None, when=T0)
    # Recorded: no longer claimed, and not due before its interval.
    assert any_store.claim_due("b:2", ["fonte-000"], now=at(30), lease_seconds=LEASE) == []
    later = at(60 + JITTER_CAP)
    assert any_store.claim_due("b:2", ["fonte-000"], now=later, lease_seconds=LEASE) == [
        "fonte-000"
    ]


def test_an_expired_lease_is_taken_over(any_store: Store) -> None:
    names = make_sources(any_store, 2)
    assert len(any_store.claim_due("morto:1", names, now=T0, lease_seconds=120)) == 2
    assert any_store.claim_due("vivo:2", names, now=at(119), lease_seconds=LEASE) == []
    taken = any_store.claim_due("vivo:2", names, now=at(121), lease_seconds=LEASE)
    assert sorted(taken) == names


def test_release_and_limit(any_store: Store) -> None:
    names = make_sources(any_store, 5)
    assert len(any_store.claim_due("a:1", names, now=T0, limit=2, lease_seconds=LEASE)) == 2
    assert any_store.release_claims("a:1") == 2
    assert len(any_store.claim_due("b:1", names, now=T0, lease_seconds=LEASE)) == 5


def test_concurrent_claims_never_overlap(any_store: Store) -> None:
    names = make_sources(any_store, 120)
    results: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)

    def claim(owner: str) -> None:
        barrier.wait()
        got: list[str] = []
        for _ in range(10):
            got += any_store.claim_due(owner, names, now=T0, limit=7, lease_seconds=LEASE)
        results[owner] = got

    threads = [threading.Thread(target=claim, args=(f"d{i}:{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [name for got in results.values() for name in got]
    assert len(claimed) == len(set(claimed)), "a source was claimed twice"
    assert sorted(claimed) == names


def test_jitter_spreads_but_stays_bounded() -> None:
    moments = [at(i) for i in range(200)]
    waits = {jittered(600, salt, when) for salt, when in enumerate(moments)}
    assert min(waits) >= 600 and max(waits) <= 600 + 60
    assert len(waits) > 20
    assert jittered(86400, 1, T0) <= 86400 + JITTER_CAP
