"""The values the store derives from an article draft to store it: its content hash (an
unchanged re-ingest), the hash of what a reader sees (`db.dedup.visible_digest`) and its
title key (`db.dedup.title_key`).

Pure, and importing nothing heavier than `db.dedup`: the normalizer's worker processes
compute them with each draft (`with_keys`), and those processes load no SQL layer.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC

from db import dedup
from db.records import ArticleDraft, DraftKeys


def content_hash(draft: ArticleDraft) -> str:
    """Hash of everything a reader sees, so an unchanged re-ingest is recognised."""
    payload = json.dumps(
        [
            draft.title,
            draft.summary,
            draft.content_html,
            draft.url,
            list(draft.authors),
            draft.category,
            list(draft.tags),
            draft.published.astimezone(UTC).isoformat(),
            draft.language,
            draft.slug,
            draft.image_url,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def draft_keys(draft: ArticleDraft) -> DraftKeys:
    """The values the store derives from `draft` besides its search index text."""
    return DraftKeys(content_hash(draft), dedup.visible_digest(draft), dedup.title_key(draft.title))


def with_keys(draft: ArticleDraft) -> ArticleDraft:
    """`draft` carrying its `draft_keys`: where drafts are made in worker processes, this
    takes the hashing off the single process that stores them. Called on a draft nobody
    else holds yet (it sets the one field `ArticleDraft` leaves out of `__init__` for
    this)."""
    object.__setattr__(draft, "keys", draft_keys(draft))
    return draft


def keys_of(draft: ArticleDraft) -> DraftKeys:
    """The keys `draft` carries, else computed here."""
    return draft.keys if draft.keys is not None else draft_keys(draft)
