"""How many articles every section holds, for the archives, kept between feed builds.

Counting every section's articles (`Store.section_counts`) reads the whole store, and a
build with archives needs the counts every time. So a build keeps them in its state
(`feeds.build.BuildState.counts`) with the store's mark (`db.pages.PageMark`: the newest
article id and the revisions raised by edits, hiding, showing, pruning, deleting, links
and topic changes); the next build that finds the same revisions counts only the
articles stored since (a range of ids) and adds them. Anything else counts the whole
store again.
"""

from __future__ import annotations

from dataclasses import astuple
from typing import TYPE_CHECKING, Any

from db.records import Section
from db.store import Store
from feeds.archive import SectionKey
from feeds.sections import KIND_OF_SECTION, FeedKind

if TYPE_CHECKING:
    from feeds.build import BuildState

Counts = dict[Section | None, int]


def _kept(kept: Any, authors: bool) -> tuple[list[int], Counts] | None:
    """The counts a build kept and the mark they were counted at (None: none usable)."""
    try:
        if kept["authors"] != authors:
            return None
        counts: Counts = {
            None if kind is None else Section(kind, str(slug)): int(count)
            for kind, slug, count in kept["counts"]
        }
        return [int(v) for v in kept["mark"]], counts
    except (ValueError, KeyError, TypeError):
        return None


def section_sizes(
    store: Store, state: BuildState | None, *, authors: bool
) -> dict[SectionKey, int]:
    """How many articles every section holds, by (feed kind, slug); the root feed is
    (`FeedKind.ROOT`, ""). Without `state` the whole store is counted and nothing kept."""
    with store.page_reader() as reader:
        mark = list(astuple(reader.mark()))
    saved = _kept(state.counts, authors) if state is not None else None
    if saved is not None and saved[0] == mark:
        # Nothing stored, edited, hidden or deleted since: the kept counts are current,
        # and the state keeps them as they are.
        return _by_feed(saved[1])
    if saved is not None and saved[0][1:] == mark[1:] and saved[0][0] <= mark[0]:
        counts = saved[1]
        since = store.section_counts(authors=authors, ids=(saved[0][0], mark[0]))
        for section, count in since.items():
            counts[section] = counts.get(section, 0) + count
    else:
        counts = store.section_counts(authors=authors, ids=(0, mark[0]))
    if state is not None:
        rows = sorted(
            ([None, "", n] if s is None else [s.kind, s.slug, n] for s, n in counts.items()),
            key=lambda row: (str(row[0]), str(row[1])),
        )
        kept = {"authors": authors, "mark": mark, "counts": rows}
        if kept != state.counts:
            state.counts = kept
            state.dirty = True
    return _by_feed(counts)


def _by_feed(counts: Counts) -> dict[SectionKey, int]:
    return {
        (FeedKind.ROOT, "") if s is None else (KIND_OF_SECTION[s.kind], s.slug): n
        for s, n in counts.items()
    }
