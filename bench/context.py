"""What the figure families share in one run: the corpus, a temporary folder, the sizes of
the chosen scale, generated article folders and filled stores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.beside import Beside
from bench.corpus import Corpus, write_files
from bench.stores import StoreCache, Templates
from ingest.pool import DraftPool


@dataclass(frozen=True, slots=True)
class Sizes:
    ingest_files: int = 2000
    ingest_rounds: int = 3
    reingest_files: int = 10_000
    reingest_rounds: int = 5
    growth_ingest_files: int = 1000
    growth_rounds: int = 3
    small_store: int = 10_000
    big_store: int = 200_000
    build_rounds: int = 5
    growth_build_rounds: int = 3
    feed_items: int = 1000
    feed_rounds: int = 3  # ~10.5 s each; 5 rounds put a full run over its 10 minutes
    big_feed_bytes: int = 10 * 1024 * 1024
    daemon_sources: int = 1000
    # `pages_one_new_vs_full`: a full page build of this many articles is the baseline
    # (minutes at 200,000, so the large scale only).
    pages_store: int = 20_000


DEFAULT = Sizes()
LARGE = Sizes(big_store=1_000_000, pages_store=200_000)


class Context:
    def __init__(self, root: Path, sizes: Sizes, corpus: Corpus | None = None) -> None:
        self.root = root
        self.sizes = sizes
        self.corpus = corpus or Corpus()
        self.templates = Templates(root)
        # Set-ups the families plan to run beside the big store's fill.
        self.beside = Beside()
        self.stores = StoreCache(self.templates, self.corpus, self.beside)
        self._folders: dict[tuple[str, int], Path] = {}
        # The normalizer workers of the ingest figures, started by the first big batch,
        # as `rassegna ingest` and the daemon start theirs.
        self.pool = DraftPool()

    def files_folder(self, name: str, count: int) -> Path:
        """A folder of `count` generated article files (made once per run)."""
        key = (name, count)
        if key not in self._folders:
            folder = self.root / f"files-{name}-{count}"
            write_files(self.corpus, folder, count)
            self._folders[key] = folder
        return self._folders[key]
