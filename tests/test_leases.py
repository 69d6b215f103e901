"""Renewing leases (the daemon's heartbeat), on SQLite and on the real PostgreSQL: only the
owner's live claims are pushed forward; recorded or taken-over ones are left alone."""

from __future__ import annotations

from db.records import SourceSpec
from db.store import Store
from tests.test_claims import T0, at, make_sources


def test_renewal_keeps_a_claim_past_its_first_lease(any_store: Store) -> None:
    names = make_sources(any_store, 2)
    assert sorted(any_store.claim_due("vivo:1", names, now=T0, lease_seconds=20)) == names
    renewed = any_store.renew_claims("vivo:1", names, lease_seconds=20, now=at(15))
    assert renewed == names
    # Past the first lease, within the renewed one: nobody else may take them.
    assert any_store.claim_due("altro:2", names, now=at(30), lease_seconds=20) == []
    # Not renewed again: taken over once the renewed lease ran out.
    later = at(36)
    assert sorted(any_store.claim_due("altro:2", names, now=later, lease_seconds=20)) == names


def test_only_the_owners_live_claims_are_renewed(any_store: Store) -> None:
    names = make_sources(any_store, 3)
    assert len(any_store.claim_due("morto:1", names[:2], now=T0, lease_seconds=20)) == 2
    # One of the dead daemon's sources is taken over after its lease.
    taken = any_store.claim_due("vivo:2", names[:1], now=at(21), lease_seconds=20)
    assert taken == names[:1]
    # A claim recorded (fetch done) is no longer anyone's.
    assert any_store.claim_due("vivo:2", names[2:], now=T0, lease_seconds=20) == names[2:]
    source_id = any_store.ensure_source(
        SourceSpec(names[2], "feed", f"https://x.invalid/{names[2]}", None, 60)
    )
    any_store.record_fetch(source_id, error=None, when=at(5))
    now = at(22)
    assert any_store.renew_claims("morto:1", names, lease_seconds=20, now=now) == [names[1]]
    assert any_store.renew_claims("vivo:2", names, lease_seconds=20, now=now) == [names[0]]
    assert any_store.renew_claims("vivo:2", [], lease_seconds=20, now=now) == []
