"""Storing the drafts of a remote source (feed or page) with stable identities: a moved
guid keeps its article, an undated entry its first-seen date, a story another source
already brought is linked rather than stored twice, and edits are capped.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial

from db.dedup import lead_of
from db.draft_keys import keys_of
from db.records import ArticleDraft
from db.store import Store
from db.upsert_plan import EditCap
from ingest.article import DraftRules
from ingest.collect import Collected, empty_entries, prepare, sort_outcomes
from ingest.feed_identity import ParsedFeed
from ingest.pipeline import IngestReport
from ingest.pool import DraftPool, normalize_batch
from ingest.raw import RawArticle
from ingest.screening import record_blocked

log = logging.getLogger("rassegna.ingest")

BATCH_SIZE = 200
DUPLICATE_WINDOW = timedelta(hours=36)
EDIT_CAP = EditCap()
"""Edits stored per remote article: at most 12 a day; markup-only churn is none."""


def store_drafts(
    store: Store,
    source_id: int,
    collected: Collected,
    report: IngestReport,
    *,
    now: datetime,
    source_name: str,
    duplicate_window: timedelta = DUPLICATE_WINDOW,
    document_guids: set[str] | None = None,
) -> None:
    """Upsert the drafts, keeping identities and first-seen dates stable.

    `document_guids`, when the drafts are one part of a bigger document stored part by
    part, is the guids of the whole document (and is updated in place): a guid another
    part holds is never taken over by a moved entry.

    - an entry whose guid is new but whose link is an article the source already has
      (the publisher changed its guid scheme) updates that article;
    - an entry without any date keeps the date it got when first seen;
    - a new entry telling a story another source already brought (same URL, or a nearly
      equal title and a similar lead within `duplicate_window`, see `db.dedup`) is linked
      to that article instead of stored twice;
    - an edit that changes nothing a reader sees is not stored, and an article takes at
      most `EDIT_CAP` edits a day (the rest wait for a later fetch).
    """
    if collected.blocked:
        report.blocked += record_blocked(store, source_id, source_name, collected.blocked, now)
    if not collected.drafts:
        return
    batch_guids = document_guids if document_guids is not None else set()
    matched = _match(store, source_id, collected, report, batch_guids, source_name)
    # Once each draft's identity is known, one batched duplicate look-up for the drafts
    # new to this source (the store does not change in between, so asking for all at
    # once answers exactly what asking one by one would).
    ready = _unlinked(store, source_id, matched, report, now, source_name, duplicate_window)
    _upsert(store, source_id, ready, report, now, source_name)


def _match(
    store: Store,
    source_id: int,
    collected: Collected,
    report: IngestReport,
    batch_guids: set[str],
    source_name: str,
) -> list[tuple[ArticleDraft, bool]]:
    """Each draft not already linked elsewhere, under the guid it is stored as, and
    whether it is new to the source."""
    drafts = collected.drafts
    guids = [d.guid for d in drafts]
    linked = store.linked_guids(source_id, guids)
    known = store.known_articles(source_id, guids, [d.url for d in drafts if d.url])
    by_guid = {k.guid: k for k in known}
    by_url = {k.url: k for k in known if k.url}
    batch_guids.update(guids)
    matched: list[tuple[ArticleDraft, bool]] = []
    for draft in drafts:
        if draft.guid in linked:
            report.same += 1
            continue
        match = by_guid.get(draft.guid)
        moved = by_url.get(draft.url) if match is None and draft.url else None
        if moved is not None and moved.guid not in batch_guids:
            log.info(
                'source "%s": %s changed its guid from %s to %s; kept as the same article',
                source_name,
                draft.url,
                moved.guid,
                draft.guid,
            )
            draft = dataclasses.replace(draft, guid=moved.guid)
            batch_guids.add(moved.guid)
            match = moved
        if draft.guid in collected.undated and match is not None:
            draft = dataclasses.replace(draft, published=match.published)
        matched.append((draft, match is None))
    return matched


def _unlinked(
    store: Store,
    source_id: int,
    matched: Sequence[tuple[ArticleDraft, bool]],
    report: IngestReport,
    now: datetime,
    source_name: str,
    window: timedelta,
) -> list[ArticleDraft]:
    """The drafts to upsert: new ones that duplicate another source's article are linked
    to it instead."""
    fresh = [draft for draft, is_new in matched if is_new]
    duplicates = iter(
        store.find_duplicates(
            source_id,
            [(d.url, d.title, d.published) for d in fresh],
            window=window,
            leads=[lead_of(d.summary, d.content_text) for d in fresh],
            title_keys=[keys_of(d).title_key for d in fresh],
        )
    )
    ready: list[ArticleDraft] = []
    for draft, is_new in matched:
        duplicate = next(duplicates) if is_new else None
        if duplicate is None:
            ready.append(draft)
            continue
        store.link_article(source_id, draft.guid, duplicate, now, url=draft.url)
        log.info(
            'source "%s": "%s" is already stored from another source; linked',
            source_name,
            draft.title,
        )
        report.same += 1
    return ready


def _upsert(
    store: Store,
    source_id: int,
    ready: Sequence[ArticleDraft],
    report: IngestReport,
    now: datetime,
    source_name: str,
) -> None:
    # `seen`: each batch notes its articles as still listed in its own transaction, and
    # the rows it writes take the date as they are written rather than by an update of
    # every row afterwards.
    for start in range(0, len(ready), BATCH_SIZE):
        summary = store.upsert_articles(
            source_id, ready[start : start + BATCH_SIZE], cap=EDIT_CAP, now=now, seen=True
        )
        report.merge(summary)
        if summary.deferred:
            log.info(
                'source "%s": %d edits held back (at most %d per article per %s)',
                source_name,
                summary.deferred,
                EDIT_CAP.edits,
                EDIT_CAP.window,
            )


def store_feed(
    store: Store,
    source_id: int,
    parsed: ParsedFeed,
    report: IngestReport,
    *,
    now: datetime,
    timezone: str,
    category: str | None,
    source_name: str,
    duplicate_window: timedelta = DUPLICATE_WINDOW,
    rules: DraftRules | None = None,
    pool: DraftPool | None = None,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Normalize and store the entries of a parsed feed `batch_size` at a time (big
    batches on the workers of `pool`, if any).

    Equivalent to `collect_feed` + `store_drafts`, but a batch's entries are released
    once stored, so a big feed never holds every entry and every draft at once. Later
    batches see what earlier ones stored exactly as `store_drafts` sees its own batch:
    the guids of the whole document are known from the start.
    """
    document_guids = {raw.guid for raw in parsed.entries}
    report.problems.extend(empty_entries(source_name, parsed))
    task = partial(normalize_batch, timezone=timezone, category=category, rules=rules, now=now)
    batches = entry_batches(
        parsed.entries, now, size=batch_size, last=pool.min_batch if pool and pool.enabled else 0
    )
    # With a pool, the workers normalize the next batches while this thread stores one.
    normalized = pool.stream(task, batches) if pool is not None else ((b, task(b)) for b in batches)
    for batch, outcomes in normalized:
        collected = Collected(undated=parsed.undated)
        sort_outcomes(batch, outcomes, collected)
        del batch
        report.problems.extend(collected.problems)
        store_drafts(
            store,
            source_id,
            collected,
            report,
            now=now,
            source_name=source_name,
            duplicate_window=duplicate_window,
            document_guids=document_guids,
        )


def entry_batches(
    entries: list[RawArticle], now: datetime, *, size: int = BATCH_SIZE, last: int
) -> Iterator[list[RawArticle]]:
    """`entries` `size` at a time, each batch taken out of the list as it goes.

    With `last`, the final `last` entries of at least twice as many are a batch of their
    own: that batch is stored once the workers have nothing left to normalize, so the
    smaller it is, the less of the ingest runs on one core. `last` is the pool's least
    batch, so every batch is still normalized on the workers."""
    while entries:
        taken = len(entries)
        if last and taken >= 2 * last:
            taken -= last
        taken = min(size, taken)
        batch = entries[:taken]
        del entries[:taken]
        prepare(batch, now)
        yield batch
