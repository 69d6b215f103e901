"""Errors of ingestion, each with one sentence naming the source or file at fault."""

from __future__ import annotations


class IngestError(Exception):
    """A source could not be ingested at all (missing folder, unsupported kind...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadArticle(Exception):  # noqa: N818 - it names the thing, like ValueError
    """One article (a file, a feed item) is unusable; `reason` says why, without the place."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
