"""Scheduling decisions for sources, as pure functions: no database, no clock.

Given what the store knows of a source (`SourceSchedule`) and how a fetch ended, each
decision returns a `FetchRecord`: the columns of the source's row to write and when it is
due next. `db.sources` reads the row, asks here, and writes the record with one UPDATE.

The rules: a success resets the error count and polls again after the interval in force
(`interval_in_force`: the configured one, or for `interval = "auto"` seven days divided by
the entries of the last seven days, clamped; never shorter than the server's or feed's
own lower bound, itself capped: Cache-Control max-age, Expires or a Retry-After on a 200
or 304, RSS ttl or sy:updatePeriod, the one in force named in `min_interval_origin`);
network and server errors back off exponentially up to a cap, never disabling the
source, and a network error does not count when most remote sources are failing the
same way (the fault is then probably ours); a 429 or 503 with Retry-After postpones
(capped) without counting as an error; 410 marks the source gone; a permanent
redirect is adopted only after it was seen on consecutive fetches. Every regular poll
comes a little late by a reproducible jitter, so sources with the same interval drift
apart instead of all firing in the same second.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from db.records import (
    FetchKind,
    FetchOutcome,
    FetchState,
    ServerFloor,
    picked,
)

BACKOFF_CAP = 24 * 3600
"""No transient error ever delays a source by more than a day: it recovers by itself."""
RETRY_AFTER_CAP = 7 * 24 * 3600
"""The longest a server's Retry-After may postpone a source."""
MIN_INTERVAL_CAP = 24 * 3600
"""The longest lower bound on the polling interval a server or feed may impose."""
REDIRECT_CONFIRMATIONS = 3
"""A 301/308 target must be seen on this many consecutive fetches before it is adopted."""
GONE_DUE = datetime(9999, 1, 1, tzinfo=UTC)
"""`next_due` of a gone source: schedulers that only read `next_due` never pick it."""
NETWORK_DOWN_WINDOW = timedelta(hours=2)
"""How far back the fetches of other sources tell whether our network is down."""
NETWORK_DOWN_MIN_SOURCES = 3
"""Fewer recently fetched remote sources than this cannot tell a network outage."""
REMOTE_KINDS = ("feed", "page")
JITTER_SHARE = 0.1
JITTER_CAP = 120
"""A regular poll comes up to `JITTER_SHARE` of the interval (at most `JITTER_CAP`
seconds) late."""
BACKOFF_JITTER = 0.2
"""A backoff delay is up to this share shorter, so sources that failed together part."""

_RELEASED = MappingProxyType({"claimed_by": None, "lease_until": None})
"""Every record ends the claim its fetch ran under."""


_FROM_FETCH = (
    "source_id",
    "url",
    "interval_seconds",
    "consecutive_errors",
    "min_interval_seconds",
    "min_interval_origin",
    "redirect_target",
    "interval_auto",
    "interval_min",
    "interval_max",
)
"""What a `SourceSchedule` takes over from the `FetchState` of a fetch."""


@dataclass(frozen=True, slots=True)
class SourceSchedule(ServerFloor):
    """What the scheduling decisions need to know of one source's row. With `interval =
    "auto"` the interval follows `entries_last_week` (`adaptive_interval`) within the
    bounds `ServerFloor` carries."""

    source_id: int
    url: str  # where fetches go now: the adopted redirect target, else the configured URL
    interval_seconds: int
    consecutive_errors: int = 0
    redirect_target: str | None = None
    redirect_streak: int = 0
    url_history: tuple[str, ...] = ()
    entries_last_week: int = 0

    def interval(self, server_floor: int | None, origin: str | None = None) -> IntervalChoice:
        """The interval in force after a successful poll, and where it comes from
        (`origin`: what set the server's floor)."""
        return interval_in_force(
            self.interval_seconds,
            server_floor,
            auto=self.interval_auto,
            entries_last_week=self.entries_last_week,
            min_seconds=self.interval_min,
            max_seconds=self.interval_max,
            origin=origin,
        )

    @classmethod
    def of(cls, state: FetchState, entries_last_week: int = 0) -> SourceSchedule:
        """The schedule of a source as a fetch started from it. It lacks the redirect
        streak and URL history, so it serves only outcomes with no redirect to confirm
        (`confirms_no_redirect`)."""
        return cls(**picked(state, _FROM_FETCH), entries_last_week=entries_last_week)


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """What to write to one source's row after a fetch: `values` by column name (the
    columns not named stay as they are), `next_due` among them."""

    values: Mapping[str, Any]

    @property
    def next_due(self) -> datetime:
        due = self.values["next_due"]
        assert isinstance(due, datetime)
        return due


def backoff_seconds(interval: int, errors: int, salt: int = 0) -> int:
    """Delay before retrying after `errors` consecutive transient errors.

    Doubles from the source's own interval and is capped at `BACKOFF_CAP`. The jitter
    comes from a hash of `salt` and `errors`, not from a random generator: it is
    reproducible in tests yet spreads sources that failed together apart.
    """
    if errors <= 0:
        return interval
    base = min(BACKOFF_CAP, interval * 2 ** min(errors, 32))
    digest = hashlib.sha256(f"{salt}:{errors}".encode()).digest()
    jitter = digest[0] / 255 * BACKOFF_JITTER
    return max(interval, int(base * (1 - jitter)))


def jittered(interval: int, salt: int, when: datetime) -> int:
    """`interval` plus a jitter that is reproducible (a hash of the source and the time)."""
    digest = hashlib.sha256(f"{salt}:{int(when.timestamp())}".encode()).digest()
    spread = min(interval * JITTER_SHARE, JITTER_CAP)
    return interval + int(digest[0] / 255 * spread)


def confirms_no_redirect(state: FetchState, outcome: FetchOutcome) -> bool:
    """Whether this outcome is a success that needs nothing of the row beyond `state`
    (no redirect to count): the common case, and every 304."""
    return outcome.kind in (FetchKind.OK, FetchKind.NOT_MODIFIED) and (
        outcome.permanent_redirect in (None, state.url)
    )


def counts_network_check(outcome: FetchOutcome) -> bool:
    """Whether deciding this outcome needs `network_seems_down` (a network error the
    fetcher left for the store to judge)."""
    return outcome.kind is FetchKind.NETWORK and outcome.count_error is None


def network_seems_down(recent: Mapping[int, str | None], source_id: int) -> bool:
    """Whether most remote sources fetched lately (`recent`: their last outcome by id),
    this one included as a network failure, failed at the network level."""
    outcomes = dict(recent)
    outcomes[source_id] = FetchKind.NETWORK.value
    if len(outcomes) < NETWORK_DOWN_MIN_SOURCES:
        return False
    failing = sum(1 for o in outcomes.values() if o == FetchKind.NETWORK.value)
    return failing * 2 > len(outcomes)


def redirect_values(source: SourceSchedule, target: str | None) -> dict[str, Any]:
    """The redirect columns after a success that was (or was not) permanently
    redirected to `target`: counted, and adopted once seen `REDIRECT_CONFIRMATIONS`
    times in a row."""
    if target is None or target == source.url:
        if source.redirect_target is None and not source.redirect_streak:
            return {}
        return {"redirect_target": None, "redirect_streak": 0}
    streak = source.redirect_streak + 1 if source.redirect_target == target else 1
    if streak < REDIRECT_CONFIRMATIONS:
        return {"redirect_target": target, "redirect_streak": streak}
    history = list(source.url_history)
    if source.url not in history:
        history.append(source.url)
    return {
        "url_history": history,
        "fetch_url": target,
        "redirect_target": None,
        "redirect_streak": 0,
    }


def _validators(outcome: FetchOutcome) -> dict[str, Any]:
    """A 200 replaces both validators (even with None); a 304 only the ones it carries."""
    if not outcome.new_validators:
        return {}
    if outcome.kind is FetchKind.OK:
        return {"etag": outcome.etag, "last_modified": outcome.last_modified}
    values: dict[str, Any] = {}
    if outcome.etag:
        values["etag"] = outcome.etag
    if outcome.last_modified:
        values["last_modified"] = outcome.last_modified
    return values


def _success(source: SourceSchedule, outcome: FetchOutcome, when: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        **redirect_values(source, outcome.permanent_redirect),
        "last_success": when,
        "last_error": None,
        "consecutive_errors": 0,
        "retry_after": None,
    }
    if outcome.kind is FetchKind.OK:
        values["bozo"] = outcome.bozo
    floor = source.min_interval_seconds or 0
    origin = source.min_interval_origin
    if outcome.min_interval is not None:
        floor = min(outcome.min_interval, MIN_INTERVAL_CAP)
        origin = outcome.min_interval_origin
        values.update(min_interval_seconds=floor, min_interval_origin=origin)
    choice = source.interval(floor, origin)
    values.update(interval_used=choice.seconds, interval_reason=choice.reason)
    values["next_due"] = when + timedelta(seconds=jittered(choice.seconds, source.source_id, when))
    return values


def _failure(
    source: SourceSchedule, outcome: FetchOutcome, when: datetime, network_down: bool
) -> dict[str, Any]:
    values: dict[str, Any] = {"last_error": outcome.error}
    interval = source.interval_seconds
    if outcome.kind is FetchKind.GONE:
        values.update(gone=True, next_due=GONE_DUE)
    elif outcome.kind is FetchKind.THROTTLED:
        until = outcome.retry_after or when
        # Bounded like every other wait a server asks for (`scheduler.max_interval`).
        cap = min(RETRY_AFTER_CAP, source.interval_max)
        until = min(until, when + timedelta(seconds=cap))
        values.update(retry_after=until, next_due=max(until, when + timedelta(seconds=interval)))
    else:
        count = outcome.count_error
        if count is None:
            count = not (outcome.kind is FetchKind.NETWORK and network_down)
        errors = source.consecutive_errors + (1 if count else 0)
        delay = backoff_seconds(interval, errors, source.source_id)
        values.update(consecutive_errors=errors, next_due=when + timedelta(seconds=delay))
    return values


def decide_fetch(
    source: SourceSchedule,
    outcome: FetchOutcome,
    when: datetime,
    *,
    network_down: bool = False,
) -> FetchRecord:
    """What one fetch of a remote source changes in its row, the next poll included.

    `network_down` (`network_seems_down`) matters only when `counts_network_check`.
    The claim on the source ends with the record.
    """
    values: dict[str, Any] = {
        "last_fetch": when,
        "last_status": outcome.status,
        "last_outcome": outcome.kind.value,
        **_validators(outcome),
    }
    if outcome.kind in (FetchKind.OK, FetchKind.NOT_MODIFIED):
        values.update(_success(source, outcome, when))
    else:
        values.update(_failure(source, outcome, when, network_down))
    return FetchRecord({**values, **_RELEASED})


def decide_local_fetch(source: SourceSchedule, error: str | None, when: datetime) -> FetchRecord:
    """What one read of a local (files) source changes in its row: its outcome, an error
    count, and the next poll one jittered interval later whatever happened."""
    values: dict[str, Any] = {"last_fetch": when}
    if error is None:
        values.update(last_success=when, last_error=None, consecutive_errors=0)
    else:
        values.update(last_error=error, consecutive_errors=source.consecutive_errors + 1)
    choice = source.interval(None)
    values.update(interval_used=choice.seconds, interval_reason=choice.reason)
    due = when + timedelta(seconds=jittered(choice.seconds, source.source_id, when))
    return FetchRecord({**values, "next_due": due, **_RELEASED})


WEEK = 7 * 24 * 3600
"""The window over which an adaptive source's entries are counted."""


@dataclass(frozen=True, slots=True)
class IntervalChoice:
    """The polling interval in force for a source and where it comes from:
    "configured", "adaptive" (`interval = "auto"`) or "server" (the server's or feed's
    lower bound), with `origin` naming which header or element set that bound
    ("Cache-Control max-age=600", "Expires", "Retry-After", "RSS ttl", "sy:updatePeriod")."""

    seconds: int
    reason: str
    origin: str | None = None

    @property
    def why(self) -> str:
        """The reason as shown to people: "server: Cache-Control max-age=600" when the
        server's bound is in force and its origin known, else the reason."""
        if self.reason == "server" and self.origin:
            return f"server: {self.origin}"
        return self.reason


def adaptive_interval(entries_last_week: int, min_seconds: int, max_seconds: int) -> int:
    """Seven days divided by the entries seen in the last seven days, clamped to
    [`min_seconds`, `max_seconds`]; a source that published nothing waits the maximum."""
    if entries_last_week <= 0:
        return max_seconds
    return max(min_seconds, min(max_seconds, WEEK // entries_last_week))


def interval_in_force(
    configured: int,
    server_floor: int | None,
    *,
    auto: bool = False,
    entries_last_week: int = 0,
    min_seconds: int = 300,
    max_seconds: int = MIN_INTERVAL_CAP,
    origin: str | None = None,
) -> IntervalChoice:
    """The interval to wait after a successful poll: the configured or adaptive one,
    never shorter than what the server asks (itself bounded by `max_seconds`; `origin`
    names what asked)."""
    if auto:
        choice = IntervalChoice(
            adaptive_interval(entries_last_week, min_seconds, max_seconds), "adaptive"
        )
    else:
        choice = IntervalChoice(configured, "configured")
    floor = min(server_floor or 0, max_seconds)
    if floor > choice.seconds:
        return IntervalChoice(floor, "server", origin)
    return choice
