"""The program's own errors: each carries one sentence the CLI prints as is."""

from __future__ import annotations


class RassegnaError(Exception):
    """An error the user can act on; `message` names the file, source or key at fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(RassegnaError):
    """The configuration file or an environment override is invalid."""
