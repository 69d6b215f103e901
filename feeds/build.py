"""Build every feed from the store into the output folder, rewriting only what changed.

Each feed's inputs (its articles' ids and dates, the site settings, the renderer version)
are hashed into a fingerprint kept in `.rassegna-build.json` beside the output, together
with the size and mtime of each file written. When a feed's fingerprint and its files are
unchanged, rendering is skipped altogether; otherwise the files are rendered and replaced
atomically only if their bytes differ (`feeds.publish`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.stamps import Stamp
from db.store import Store
from feeds.errors import FeedError
from feeds.index import render_index, render_opml
from feeds.jsonfeed import ItemCache, render_json
from feeds.publish import fsync_dir, write_atomic, write_if_changed
from feeds.render import EntryCache, render_xml
from feeds.sections import FeedSpec, plan_feeds
from feeds.site import SiteInfo

STATE_FILE = ".rassegna-build.json"
INDEX = "index.html"
OPML = "opml.xml"
# Bump whenever rendering changes, so the next build re-renders every feed.
RENDER_VERSION = "1"


@dataclass(slots=True)
class BuildReport:
    """What a build did: output-relative paths written and left unchanged, and the feeds."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    feeds: list[FeedSpec] = field(default_factory=list)

    @property
    def changed_feeds(self) -> list[FeedSpec]:
        """Feeds with at least one file rewritten (those a WebSub hub should hear about)."""
        written = set(self.written)
        return [f for f in self.feeds if any(p in written for p in f.paths)]


def feed_fingerprint(site: SiteInfo, spec: FeedSpec, stamps: Sequence[Stamp]) -> str:
    """A hash of everything a feed's bytes depend on, far cheaper than rendering it.

    An article's content hash covers everything ingest gave it (text, category, tags...)
    and `updated` the date the store gave it; category and tag names are fixed once
    created, and the source of an article never changes.
    """
    digest = hashlib.sha256()
    digest.update(f"{RENDER_VERSION}\x00{site!r}\x00{spec!r}".encode())
    for article_id, content_hash, updated in stamps:
        digest.update(f"\x00{article_id}|{content_hash}|{updated}".encode())
    return digest.hexdigest()


class _State:
    """The fingerprints and file stats of the previous build."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / STATE_FILE
        self.files: dict[str, dict[str, Any]] = {}
        self.dirty = False
        try:
            loaded = json.loads(self.path.read_bytes())
            if isinstance(loaded, dict) and loaded.get("version") == RENDER_VERSION:
                self.files = dict(loaded.get("files", {}))
        except (OSError, ValueError):
            # No state (first build) or a damaged one: everything is rendered again.
            self.files = {}

    def fresh(self, relative: str, fingerprint: str) -> bool:
        """Whether `relative` was built from `fingerprint` and is still the file we wrote."""
        entry = self.files.get(relative)
        if not entry or entry.get("fp") != fingerprint:
            return False
        try:
            st = (self.root / relative).stat()
        except OSError:
            return False
        return bool(st.st_size == entry.get("size") and st.st_mtime_ns == entry.get("mtime_ns"))

    def record(self, relative: str, fingerprint: str) -> None:
        st = (self.root / relative).stat()
        entry = {"fp": fingerprint, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        if self.files.get(relative) != entry:
            self.files[relative] = entry
            self.dirty = True

    def save(self, *, fsync: bool) -> None:
        if not self.dirty:
            return
        data = json.dumps(
            {"version": RENDER_VERSION, "files": self.files}, sort_keys=True, indent=0
        ).encode()
        write_atomic(self.root, STATE_FILE, data, fsync=fsync)


def _ensure_root(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FeedError(
            f"output.dir {out_dir}: cannot create the folder: {exc.strerror or exc}"
        ) from exc
    if not os.access(out_dir, os.W_OK):
        raise FeedError(f"output.dir {out_dir}: cannot write into the folder: Permission denied")


def _fingerprint(*parts: object) -> str:
    digest = hashlib.sha256(RENDER_VERSION.encode())
    for part in parts:
        digest.update(b"\x00" + repr(part).encode())
    return digest.hexdigest()


def build_feeds(store: Store, site: SiteInfo, out_dir: Path, *, fsync: bool = True) -> BuildReport:
    """Write every feed (RSS, Atom, JSON Feed), `index.html` and `opml.xml` into `out_dir`.

    Files whose bytes did not change are not rewritten; `fsync=False` trades durability
    for speed (tests, benchmarks). Raises FeedError when the output cannot be written.
    """
    _ensure_root(out_dir)
    state = _State(out_dir)
    report = BuildReport()
    touched: set[Path] = set()
    specs = plan_feeds(store, site)
    report.feeds = specs

    def publish(outputs: Sequence[tuple[str, bytes]], fingerprint: str) -> None:
        for relative, data in outputs:
            if write_if_changed(out_dir, relative, data, fsync=fsync):
                report.written.append(relative)
                touched.add((out_dir / relative).parent)
            else:
                report.unchanged.append(relative)
            state.record(relative, fingerprint)

    # Stamps first, all at once: when they match the last build, articles are never loaded.
    with store.stamp_reader() as reader:
        planned = [
            (spec, feed_fingerprint(site, spec, reader.latest(site.items_per_feed, **spec.query())))
            for spec in specs
        ]
        index_fp = _fingerprint(site, specs, reader.latest(site.index_articles))

    entries = EntryCache(site)
    items = ItemCache(site)
    for spec, fingerprint in planned:
        if all(state.fresh(p, fingerprint) for p in spec.paths):
            report.unchanged.extend(spec.paths)
            continue
        # If the store changed since the stamps were read, the files are newer than their
        # fingerprint says, so the next build renders them again: never stale, at worst
        # rendered twice.
        articles = store.latest_articles(site.items_per_feed, **spec.query())
        xml = render_xml(site, spec, articles, entries)
        publish(
            (
                (spec.rss_path, xml.rss),
                (spec.atom_path, xml.atom),
                (spec.json_path, render_json(site, spec, articles, items)),
            ),
            fingerprint,
        )

    if state.fresh(INDEX, index_fp):
        report.unchanged.append(INDEX)
    else:
        latest = store.latest_articles(site.index_articles)
        publish(((INDEX, render_index(site, specs, latest)),), index_fp)
    opml_fp = _fingerprint(site, specs)
    if state.fresh(OPML, opml_fp):
        report.unchanged.append(OPML)
    else:
        publish(((OPML, render_opml(site, specs)),), opml_fp)

    state.save(fsync=fsync)
    if fsync:
        for folder in sorted(touched):
            fsync_dir(folder)
    return report
