"""The one error type of the publishing side."""

from __future__ import annotations


class FeedError(Exception):
    """A build failed for a reason the user must fix (e.g. an unwritable output folder).

    `message` is one sentence naming the file or setting at fault, ready to be shown as is:
    ``output.dir /srv/feeds: cannot write rss.xml: Permission denied``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
