"""Labels (categories, tags, authors) and the one slug rule every name goes through.

`label_slug` is the only place a source, category, tag, author or topic filter name
becomes a URL slug; `label_ids` / `ids_by_slug` find or create label rows by slug.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from slugify import slugify
from sqlalchemy import Connection, Table, select

from db.tables import chunks, dialect_insert

NAME_LENGTH = 200
"""Longest author name and slug stored (`authors` columns are `String(200)`)."""
BLANK_SLUG = "senza-nome"
"""The slug of a name with nothing sluggable in it."""


@lru_cache(maxsize=8192)
def label_slug(name: str) -> str:
    """The URL slug of a category, tag or source name (`Attualità` → `attualita`).

    Cached: every stored article asks for the slugs of its few labels, a site has a few
    thousand of them at most, and python-slugify is slow next to a dictionary look-up."""
    return slugify(name, lowercase=True, replacements=[["'", "-"], ["’", "-"]]) or BLANK_SLUG


def author_labels(names: Iterable[str]) -> dict[str, str]:
    """The authors of one article as {slug: name}, in order, blank and repeated ones
    dropped (`Mario Rossi` and `mario rossi` are one author)."""
    labels: dict[str, str] = {}
    for name in names:
        clean = " ".join(name.split())[:NAME_LENGTH]
        if clean:
            labels.setdefault(label_slug(clean)[:NAME_LENGTH].strip("-") or BLANK_SLUG, clean)
    return labels


def label_ids(connection: Connection, table: Table, names: Iterable[str]) -> dict[str, int]:
    """Ids of these categories or tags by slug, creating the missing ones.

    A blank name is no label. A new label takes the first name given for its slug. One
    `slug IN (...)` read, and an insert only when some are new; `ON CONFLICT DO NOTHING`
    lets a concurrent writer create the same label first (PostgreSQL, several daemons).
    """
    wanted: dict[str, str] = {}
    for name in names:
        if name.strip():
            wanted.setdefault(label_slug(name), name.strip())
    return ids_by_slug(connection, table, wanted)


def ids_by_slug(connection: Connection, table: Table, wanted: dict[str, str]) -> dict[str, int]:
    """Ids of the labels of `table` with these slugs ({slug: name}), creating the missing
    ones under the name given."""
    found: dict[str, int] = {}

    def read(slugs: Sequence[str]) -> None:
        for chunk in chunks(slugs):
            query = select(table.c.slug, table.c.id).where(table.c.slug.in_(chunk))
            found.update((slug, label_id) for slug, label_id in connection.execute(query))

    read(list(wanted))
    missing = [slug for slug in wanted if slug not in found]
    if missing:
        statement = dialect_insert(connection, table).on_conflict_do_nothing(
            index_elements=[table.c.slug]
        )
        connection.execute(statement, [{"name": wanted[s], "slug": s} for s in missing])
        read(missing)
    return found
