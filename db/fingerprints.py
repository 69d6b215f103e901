"""File fingerprints: what a files source remembers of each of its files (mtime, size,
content hash), so an unchanged file is skipped without being read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields

from sqlalchemy import Engine, select

from db.records import FileFingerprint, picked
from db.tables import FINGERPRINTS, dialect_insert

_FIELDS = tuple(f.name for f in fields(FileFingerprint))
"""A fingerprint's record and its row hold the same values under the same names."""


def file_fingerprints(engine: Engine, source_id: int) -> dict[str, FileFingerprint]:
    """What the source remembers of each of its files, by guid."""
    # Core, not ORM: an unchanged re-ingest of a big folder is mostly this read, and
    # ORM objects (identity map, instrumentation) cost several times the query.
    fp = FINGERPRINTS.c
    query = select(fp.guid, fp.mtime_ns, fp.size, fp.content_hash).where(fp.source_id == source_id)
    with engine.connect() as connection:
        return {
            guid: FileFingerprint(guid, mtime_ns, size, digest)
            for guid, mtime_ns, size, digest in connection.execute(query)
        }


def save_fingerprints(engine: Engine, source_id: int, prints: Iterable[FileFingerprint]) -> None:
    """Remember files whose article was stored (or that were unchanged)."""
    # The last fingerprint of a guid wins, as it would row by row; one statement per
    # guid also keeps PostgreSQL from seeing the same conflict twice in one command.
    rows = {fp.guid: {"source_id": source_id, **picked(fp, _FIELDS)} for fp in prints}
    if not rows:
        return
    with engine.begin() as connection:
        statement = dialect_insert(connection, FINGERPRINTS)
        statement = statement.on_conflict_do_update(
            index_elements=[FINGERPRINTS.c.source_id, FINGERPRINTS.c.guid],
            set_={
                "mtime_ns": statement.excluded.mtime_ns,
                "size": statement.excluded.size,
                "content_hash": statement.excluded.content_hash,
            },
        )
        connection.execute(statement, list(rows.values()))
