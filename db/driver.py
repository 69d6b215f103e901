"""Statements compiled once per kind of database and run on the driver's own cursor.

For statements run by the dozen with rows that need no conversion (a build's reads of
ids, hashes and dates as text; each topic's members in a batch of new articles):
SQLAlchemy's execution of an already-built statement (cache lookup, execution context,
result metadata, row objects) costs more than the database's own work on such small
results. The statement is still written in SQLAlchemy Core, compiled once, and its driver
errors are raised as SQLAlchemy's, as `Connection.execute` raises them, so that
`db.errors.translated` names the database as for any other read or write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


@dataclass(frozen=True, slots=True)
class DialectKind:
    """What decides a statement's SQL text, compared by value, not by identity: every
    engine opened on the same kind of database (a new `Store` each CLI command, test or
    bench round) reuses the statements compiled before."""

    kind: type[Dialect]
    paramstyle: str
    version: tuple[Any, ...] | None
    dialect: Dialect = field(compare=False, hash=False)

    @classmethod
    def of(cls, dialect: Dialect) -> DialectKind:
        return cls(type(dialect), dialect.paramstyle, dialect.server_version_info, dialect)


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A statement compiled for one kind of database: its SQL and how to fill its
    parameters (positional paramstyles repeat a name used twice)."""

    sql: str
    defaults: Mapping[str, Any]
    order: tuple[str, ...] | None  # positional parameters: their names in order

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        merged = {**self.defaults, **values}
        return merged if self.order is None else [merged[name] for name in self.order]


def compile_statement(statement: ClauseElement, dialect: Dialect) -> DriverStatement:
    """`statement` compiled for `dialect`, uncached: for callers that cache by a key of
    their own (`compiled_for` caches by the statement itself)."""
    compiled = cast(
        SQLCompiler,
        statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True}),
    )
    order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    return DriverStatement(compiled.string, dict(compiled.params), order)


@lru_cache(maxsize=256)
def _compiled(statement: ClauseElement, kind: DialectKind) -> DriverStatement:
    return compile_statement(statement, kind.dialect)


def compiled_for(statement: ClauseElement, dialect: Dialect) -> DriverStatement:
    """`statement` compiled for `dialect`'s kind of database, once per process. The
    statement must be built once too (a module constant): it is the cache key."""
    return _compiled(statement, DialectKind.of(dialect))


class DriverCursor:
    """Runs compiled statements on one driver cursor of `connection`, in its transaction
    (`with contextlib.closing(DriverCursor(connection))` closes it after use)."""

    def __init__(self, connection: Connection) -> None:
        self._dialect = connection.dialect
        self._cursor = connection.connection.cursor()

    def rows(self, statement: DriverStatement, values: Mapping[str, Any]) -> list[Any]:
        """Every row of `statement` with `values` bound, as the driver gives them."""
        self._execute(statement, values)
        return list(self._cursor.fetchall())

    def run(self, statement: DriverStatement, values: Mapping[str, Any]) -> int:
        """Run a statement that writes; returns how many rows it wrote."""
        self._execute(statement, values)
        return int(self._cursor.rowcount)

    def _execute(self, statement: DriverStatement, values: Mapping[str, Any]) -> None:
        parameters = statement.parameters(values)
        error = self._dialect.loaded_dbapi.Error
        try:
            self._cursor.execute(statement.sql, parameters)
        except error as exc:
            raise DBAPIError.instance(
                statement.sql, parameters, exc, error, dialect=self._dialect
            ) from exc

    def close(self) -> None:
        self._cursor.close()
