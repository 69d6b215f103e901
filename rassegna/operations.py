"""The things the CLI and the daemon do, each once: open the store, ingest sources or an
ad-hoc path, build the feeds. Settings are passed in; nothing is global."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from db.records import SourceSpec
from db.store import Store
from feeds.build import BuildReport, build_feeds
from feeds.site import SiteInfo
from ingest.errors import IngestError
from ingest.pipeline import IngestReport, Progress, ingest_files_source
from rassegna.config import Settings, SourceConfig
from rassegna.errors import RassegnaError

log = logging.getLogger("rassegna")


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open the configured database, creating or upgrading its schema."""
    return Store.open(settings.database_url, migrate=migrate, pool_size=settings.scheduler.workers)


def site_info(settings: Settings) -> SiteInfo:
    site = settings.site
    return SiteInfo(
        title=site.title,
        link=site.link,
        base_url=site.base_url,
        language=site.language,
        timezone=site.timezone,
        description=site.description,
        items_per_feed=settings.output.items_per_feed,
        interval_seconds=settings.scheduler.interval,
        min_tag_articles=settings.output.min_tag_articles,
    )


def source_spec(settings: Settings, source: SourceConfig) -> SourceSpec:
    return SourceSpec(
        name=source.name,
        kind=source.kind,
        location=source.location,
        category=source.category,
        interval_seconds=settings.interval_of(source),
    )


def select_sources(settings: Settings, names: Sequence[str]) -> list[SourceConfig]:
    """The named sources (all enabled ones when `names` is empty)."""
    if not names:
        return [s for s in settings.sources if s.enabled]
    chosen = []
    for name in names:
        source = settings.source(name)
        if source is None:
            known = ", ".join(f'"{s.name}"' for s in settings.sources) or "none"
            raise RassegnaError(f'no source named "{name}" in {settings.origin} (known: {known})')
        chosen.append(source)
    return chosen


def ingest_source(
    settings: Settings, store: Store, source: SourceConfig, progress: Progress | None = None
) -> IngestReport:
    """Ingest one configured source; a failure is reported, never raised."""
    spec = source_spec(settings, source)
    try:
        if source.kind != "files":
            raise IngestError(
                f'source "{source.name}": kind "{source.kind}" is not supported by this version'
            )
        return ingest_files_source(store, spec, timezone=settings.site.timezone, progress=progress)
    except IngestError as exc:
        log.error("%s", exc.message)
        report = IngestReport(source=source.name, error=exc.message)
        source_id = store.ensure_source(spec)
        store.record_fetch(source_id, error=exc.message)
        return report


def ingest_path(
    settings: Settings, store: Store, path: Path, progress: Progress | None = None
) -> IngestReport:
    """Ingest an ad-hoc file or folder.

    A path inside a configured files source is ingested as part of that source, so its
    articles keep the same identity as on a scheduled run.
    """
    target = path.resolve()
    if not target.exists():
        raise RassegnaError(f"{path}: no such file or folder")
    if target.is_file() and target.suffix not in (".txt", ".md"):
        raise RassegnaError(f"{path}: not an article file (expected .txt or .md)")
    for source in settings.sources:
        if source.kind == "files" and source.path is not None:
            root = source.path.resolve()
            if target == root or root in target.parents:
                return ingest_files_source(
                    store,
                    source_spec(settings, source),
                    timezone=settings.site.timezone,
                    only=target,
                    progress=progress,
                )
    root = target if target.is_dir() else target.parent
    spec = SourceSpec(
        name=str(root),
        kind="files",
        location=str(root),
        interval_seconds=settings.scheduler.interval,
    )
    return ingest_files_source(
        store,
        spec,
        timezone=settings.site.timezone,
        only=target if target.is_file() else None,
        progress=progress,
    )


def build(settings: Settings, store: Store) -> BuildReport:
    """Regenerate every feed in the output folder (unchanged files are left alone)."""
    return build_feeds(store, site_info(settings), settings.output.dir)
