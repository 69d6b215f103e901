"""Column builders the migrations share.

Frozen like the migrations that use them: a revision that has shipped must build the same
schema on every later upgrade, so never change what a builder here makes; add a new one.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def cascade_key(
    name: str, target: str, kind: sa.types.TypeEngine[Any] | None = None
) -> sa.Column[Any]:
    """A primary-key column referring to `target` ("table.column"), whose rows go with
    the row they refer to (an integer column unless `kind` says otherwise)."""
    return sa.Column(
        name,
        kind if kind is not None else sa.Integer(),
        sa.ForeignKey(target, ondelete="CASCADE"),
        primary_key=True,
    )
