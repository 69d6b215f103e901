"""Named revisions: counters that a change raises in its own transaction, so that a process
holding a cache (the server's `/cerca` answers) learns from one read that what it cached may
no longer be true. A missing row reads as 0."""

from __future__ import annotations

from sqlalchemy import Connection, ScalarSelect, select

from db.tables import REVISIONS, dialect_insert

RESULTS = "results"
"""Raised whenever stored articles leave or join what readers can find without a new article
arriving: hidden or shown again by rules, pruned, deleted with their source."""


EDITS = "edits"
"""Raised whenever stored articles are edited (their text, title, labels or dates)."""


LINKS = "links"
"""Raised whenever a stored article gains a linked source (another source carrying it)."""


TOPICS = "topics"
"""Raised whenever the topic memberships of stored articles change other than by the
articles being stored or edited in the same transaction: a topic back-filled, removed or
matched again."""


def bump(connection: Connection, name: str = RESULTS) -> None:
    """Raise the revision `name` by one, inside the caller's transaction."""
    insert = dialect_insert(connection, REVISIONS).values(name=name, value=1)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=[REVISIONS.c.name], set_={"value": REVISIONS.c.value + 1}
        )
    )


def value_of(name: str = RESULTS) -> ScalarSelect[int]:
    """The revision's value as a scalar subquery, to read beside other values at once."""
    return select(REVISIONS.c.value).where(REVISIONS.c.name == name).scalar_subquery()
