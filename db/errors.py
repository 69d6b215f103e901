"""Errors the store raises, each carrying one sentence a user can act on."""


class StoreError(Exception):
    """A database problem the user must fix (unreachable server, bad URL, failed migration)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
