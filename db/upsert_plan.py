"""The upsert plan, pure: the hash that tells an unchanged draft, the edit cap, and for a
batch of drafts which to insert, which to update and with what dates.

No database here: `db.upsert` reads the stored versions, asks `plan_upserts`, and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from db.draft_keys import keys_of
from db.labels import label_slug
from db.records import ArticleDraft, Section, UpsertOutcome, UpsertSummary


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """The stored version of an article, as an upsert compares drafts with it."""

    id: int
    content_hash: str
    published: datetime
    updated: datetime
    visible_hash: str | None = None
    edit_count: int = 0
    edit_window_start: datetime | None = None


@dataclass(frozen=True, slots=True)
class EditCap:
    """How often a remote article may change: at most `edits` edits per `window`.

    The window starts at the first edit after the previous window ended. An edit beyond
    the cap is not stored: the article stays as it was, and the next fetch after the
    window ends stores whatever the entry then says (an upstream that edits an article
    every few minutes is read at most `edits` times a window, and its last version is
    never lost as long as the entry is still listed). Each deferred edit is counted in
    `UpsertSummary.deferred`.
    """

    edits: int = 12
    window: timedelta = timedelta(hours=24)


@dataclass(slots=True)
class Plan:
    """What a batch will write for one guid: the last draft seen for it and its dates."""

    draft: ArticleDraft
    digest: str
    article_id: int | None  # None: a new article
    published: datetime
    updated: datetime
    edit_count: int = 0
    edit_window_start: datetime | None = None


def admit_edit(
    row: StoredVersion, draft: ArticleDraft, now: datetime, cap: EditCap, summary: UpsertSummary
) -> tuple[int, datetime | None] | None:
    """The edit counters after storing this edit of `row`, or None when it must not be
    stored: nothing a reader sees changed (hash churn), or the cap is reached."""
    if row.visible_hash is not None and row.visible_hash == keys_of(draft).visible_hash:
        summary.churn += 1
        return None
    count, start = row.edit_count, row.edit_window_start
    if start is None or now - start >= cap.window:
        count, start = 0, now
    if count >= cap.edits:
        summary.deferred += 1
        return None
    return count + 1, start


def plan_upserts(
    drafts: Sequence[ArticleDraft],
    existing: dict[str, StoredVersion],
    now: datetime,
    summary: UpsertSummary,
    cap: EditCap | None = None,
) -> list[Plan]:
    """Decide new / changed / same for each draft, in order, as if stored one by one (a
    guid repeated in a batch is stored once, with its last version). With `cap`, an
    edit that only churns the hash or that is over the cap is SAME (`admit_edit`)."""
    plans: dict[str, Plan] = {}
    for draft in drafts:
        digest = keys_of(draft).content_hash
        plan = plans.get(draft.guid)
        row = existing.get(draft.guid)
        if plan is None and row is not None and row.content_hash == digest:
            summary.add(UpsertOutcome.SAME)
            continue
        if plan is not None and plan.digest == digest:
            summary.add(UpsertOutcome.SAME)
            continue
        if plan is None and row is None:
            plan = Plan(draft, digest, None, draft.published, draft.updated or draft.published)
            plans[draft.guid] = plan
            summary.add(UpsertOutcome.NEW)
        else:
            if plan is None:
                assert row is not None
                plan = _edit_plan(row, draft, digest, now, summary, cap)
                if plan is None:
                    summary.add(UpsertOutcome.SAME)
                    continue
                plans[draft.guid] = plan
            _advance(plan, draft, digest, now)
            summary.add(UpsertOutcome.CHANGED)
        if draft.category is not None and draft.category.strip():
            summary.changed_sections.add(Section("category", label_slug(draft.category)))
    return list(plans.values())


def _edit_plan(
    row: StoredVersion,
    draft: ArticleDraft,
    digest: str,
    now: datetime,
    summary: UpsertSummary,
    cap: EditCap | None,
) -> Plan | None:
    """The plan of a first edit of a stored article in this batch (None: not stored)."""
    counters = (row.edit_count, row.edit_window_start)
    if cap is not None:
        admitted = admit_edit(row, draft, now, cap, summary)
        if admitted is None:
            return None
        counters = admitted
    return Plan(draft, digest, row.id, row.published, row.updated, *counters)


def _advance(plan: Plan, draft: ArticleDraft, digest: str, now: datetime) -> None:
    """Make `draft` the plan's version. Any change must move `updated` forward, or
    readers never see the edit; the source's own date is used only when it does."""
    if draft.updated is not None and draft.updated > plan.updated:
        plan.updated = draft.updated
    else:
        plan.updated = max(now, plan.updated)
    plan.draft, plan.digest = draft, digest
