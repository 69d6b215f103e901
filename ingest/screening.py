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

log = logging.getLogger("rassegna.ingest")


def screen(draft: ArticleDraft, rules: DraftRules | None, now: datetime) -> BlockedEntry | None:
    """The entry as blocked when the source's rules block it, else None (store it)."""
    reason = rules.kept_out(draft, now) if rules else None
    return None if reason is None else BlockedEntry(draft.guid, draft.title, reason)


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
