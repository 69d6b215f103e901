"""RFC 5005 archives: which items each feed shows and which archive pages it has.

A feed's articles, ordered oldest first (published, then id), are cut into fixed pages of
`SiteInfo.archive_page_size` items: page 1 is the oldest N, page 2 the next N, and so on.
A page exists once it is full, and since pages are counted from the oldest article, new
articles never move a full page's items: each archive document is written once and never
changed again (`feeds.build` never rewrites an existing one). The subscription document
shows the latest items, at least the feed's limit and at least every item not yet in a
full page, so that walking `prev-archive` from it reaches every article without gaps
(an item may sit both in the current feed and in the newest page; RFC 5005 readers keep
one copy by id).

What this cannot do without rewriting history: an article deleted from the store, or one
arriving late with an old date, shifts the positions of the items after it; pages already
written keep what they had (readers see a duplicate or miss the late one in the archive,
never an error). That is the price of immutable archives.

Hiding articles (`rassegna rules apply`) or showing them again (`--undo`) is the one
deliberate change to history: `stale_pages` finds, in the output folder, the archive pages
of every feed from the first one that holds a hidden article (or would hold one shown
again) onwards, since every later item moved; `drop_pages` removes them, and the next
builds write them again from the store, so no feed keeps a hidden article in its archive.

Writing them is bounded (`feeds.build`): a build writes at most `DEFAULT_MAX_PAGES`
missing pages, newest first, each loaded on its own through `Store.oldest_articles` /
`Store.articles_before`, so the first build over a long history neither holds it in
memory nor renders all of it at once; the other pages follow in the next builds.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime
from pathlib import Path

from feeds.publish import GZIP_SUFFIX
from feeds.sections import ARCHIVE_FOLDER

SectionKey = tuple[str, str]  # (kind, slug); the root feed is (FeedKind.ROOT, "")

DEFAULT_MAX_PAGES = 200
"""Archive pages one build writes at most: the first build over a large history spreads
its archives over several builds instead of rendering thousands of pages in one go."""


def full_pages(total: int, page_size: int) -> int:
    """How many full archive pages `total` items make (none when archiving is off)."""
    return total // page_size if page_size > 0 else 0


def shown_items(limit: int, total: int, page_size: int) -> int:
    """How many items the subscription document shows.

    The feed's limit, or more when the items not yet in a full page outnumber it (a page
    larger than the limit), so that no item falls between the feed and its archive.
    """
    if page_size <= 0:
        return limit
    return max(limit, total % page_size)


_PAGE_FILES = ("rss.xml", "atom.xml", "feed.json")


def _feed_pages(archive: Path) -> list[tuple[int, Path]]:
    """The page folders of one feed's `archivio/`, oldest page first."""
    found = [(int(p.name), p) for p in archive.iterdir() if p.is_dir() and p.name.isdigit()]
    return sorted(found)


def _page_changed(folder: Path, uids: Collection[str], since: datetime | None) -> bool:
    """Whether a written page holds one of `uids`, or an item at or after `since` (where an
    article shown again falls). A page whose JSON cannot be read counts as changed: writing
    it again is always safe."""
    try:
        items = json.loads((folder / "feed.json").read_text(encoding="utf-8"))["items"]
        ids = [str(item["id"]) for item in items]
        dates = [datetime.fromisoformat(str(item["date_published"])) for item in items]
    except (OSError, ValueError, KeyError, TypeError):
        return True
    if any(uid in uids for uid in ids):
        return True
    return since is not None and any(date >= since for date in dates)


def stale_pages(
    out_dir: Path, *, uids: Collection[str] = (), since: datetime | None = None
) -> list[Path]:
    """The written archive page folders that articles hidden (`uids`) or shown again (the
    oldest published at `since`, an aware datetime) have made wrong: in every feed, the
    first page that held or would hold one, and every later page of that feed."""
    if since is not None:
        since = since.replace(microsecond=0)  # feed dates are to the second
    stale: list[Path] = []
    if not out_dir.is_dir():
        return stale
    for archive in sorted(out_dir.rglob(ARCHIVE_FOLDER)):
        if not archive.is_dir():
            continue
        pages = _feed_pages(archive)
        for position, (_number, folder) in enumerate(pages):
            if _page_changed(folder, uids, since):
                stale.extend(page for _n, page in pages[position:])
                break
    return stale


def drop_pages(folders: Iterable[Path]) -> int:
    """Remove the feed files of these archive pages (the next build writes them again);
    returns how many pages were removed."""
    dropped = 0
    for folder in folders:
        for name in _PAGE_FILES:
            for path in (folder / name, folder / (name + GZIP_SUFFIX)):
                path.unlink(missing_ok=True)
        dropped += 1
    return dropped
