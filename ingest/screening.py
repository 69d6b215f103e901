"""Keep/block rules in the ingest pipelines: screen each draft, and remember the entries
kept out so the next poll does not count them as new again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from db.blocked import BlockedEntry
from db.records import ArticleDraft
from db.store import Store
from ingest.article import DraftRules
from ingest.rules import Subject

log = logging.getLogger("rassegna.ingest")


def screen(draft: ArticleDraft, rules: DraftRules | None, now: datetime) -> BlockedEntry | None:
    """The entry as blocked when the source's rules block it, else None (store it)."""
    if rules is None or not rules.filters:
        return None
    decision = rules.filters.decide(Subject.of_draft(draft), now)
    if not decision.blocked:
        return None
    return BlockedEntry(guid=draft.guid, title=draft.title, reason=decision.reason)


def record_blocked(
    store: Store,
    source_id: int,
    source_name: str,
    blocked: Sequence[BlockedEntry],
    now: datetime,
) -> int:
    """Remember `blocked`; returns how many were not blocked before (one log line each)."""
    fresh = store.remember_blocked(source_id, blocked, now)
    for entry in fresh:
        log.info('source "%s": "%s" not stored, %s', source_name, entry.title, entry.reason)
    return len(fresh)
