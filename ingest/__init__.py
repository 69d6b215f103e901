"""Ingestion: source adapters, Italian normalization and the pipeline that stores articles.

It may import `db` (to store) but never `feeds` or `rassegna`.
"""

from db.records import DEFAULT_TIMEZONE

__all__ = ["DEFAULT_TIMEZONE", "is_url"]


def is_url(location: str) -> bool:
    """Whether a location (a source's, a link's, a command-line target) is an http(s) URL
    we may fetch; anything else is a path or not ours to follow."""
    return location.startswith(("http://", "https://"))
