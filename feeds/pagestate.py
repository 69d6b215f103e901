"""The page build's state, split by month of article address.

`BuildState` keeps one file of every page's fingerprint and stat; with a page per article
that file grows with the store, and a build that touches a handful of pages would read and
write all of it. Here the entries of article pages live in one file per month of their
address (`.rassegna-pages-<yyyy>-<mm>.json`), read only when a page of that month is
looked at (or by `load_all`, for a full pass), written only when one of its entries
changed; everything else stays in the main file (`.rassegna-pages.json`).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from db.pages import ARTICLES_FOLDER
from feeds.build import BuildState
from feeds.publish import write_atomic

_ARTICLES = f"{ARTICLES_FOLDER}/"
_OTHER = "altre"


def _group(relative: str) -> str | None:
    """The month file of an article page's entry (None: the main file's)."""
    if not relative.startswith(_ARTICLES):
        return None
    parts = relative.split("/")
    if len(parts) >= 4 and parts[1].isdigit() and parts[2].isdigit():
        return f"{parts[1]}-{parts[2]}"
    return _OTHER


class PagesState(BuildState):
    """A `BuildState` whose article page entries are kept in one file per month."""

    def __init__(self, root: Path, name: str, version: str) -> None:
        super().__init__(root, name, version)
        self._stem = name.removesuffix(".json")
        self._loaded: set[str] = set()
        self._dirty: set[str | None] = set()
        # A main file of every entry (as `BuildState` writes it) is split at the next save.
        for group in {_group(p) for p in self.files} - {None}:
            assert group is not None
            self._loaded.add(group)
            self._dirty.update((group, None))

    def _file(self, group: str) -> Path:
        return self.root / f"{self._stem}-{group}.json"

    def _load(self, group: str) -> None:
        self._loaded.add(group)
        try:
            loaded = json.loads(self._file(group).read_bytes())
        except (OSError, ValueError):
            return  # no entries of that month yet, or damaged: its pages are rendered again
        if isinstance(loaded, dict) and loaded.get("version") == self.version:
            for relative, entry in dict(loaded.get("files", {})).items():
                self.files.setdefault(relative, entry)

    def _ensure(self, relative: str) -> str | None:
        group = _group(relative)
        if group is not None and group not in self._loaded:
            self._load(group)
        return group

    def load_all(self) -> None:
        """Read every month's entries (a full pass looks at every page)."""
        prefix = f"{self._stem}-"
        for path in sorted(self.root.glob(f"{prefix}*.json")):
            group = path.name.removeprefix(prefix).removesuffix(".json")
            if group not in self._loaded:
                self._load(group)

    def fresh(self, relative: str, fingerprint: str) -> bool:
        self._ensure(relative)
        return super().fresh(relative, fingerprint)

    def record(self, relative: str, fingerprint: str, stat: Any = None) -> None:
        self._dirty.add(self._ensure(relative))
        super().record(relative, fingerprint, stat)

    def forget(self, relative: str) -> None:
        self._dirty.add(self._ensure(relative))
        super().forget(relative)

    def save(self, *, fsync: bool) -> None:
        if not self.dirty and not self._dirty:
            return
        split: dict[str | None, dict[str, Any]] = {group: {} for group in self._dirty}
        for relative, entry in self.files.items():
            group = _group(relative)
            if group in split:
                split[group][relative] = entry
        for group, files in split.items():
            name = self.path.name if group is None else self._file(group).name
            if group is not None and not files:
                with contextlib.suppress(FileNotFoundError):
                    self._file(group).unlink()
                continue
            # No indent: json's C encoder (see `BuildState.save`).
            data = json.dumps(
                {"version": self.version, "files": files}, sort_keys=True, separators=(",", ":")
            ).encode()
            write_atomic(self.root, name, data, fsync=fsync)
        self._dirty.clear()
        self.dirty = False
