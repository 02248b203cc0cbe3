"""The fast path's reads: the same prebuilt Core statements, run straight on the DBAPI cursor.

The answers (answers.py, questions.py, ``categories_at``, ``recent_uses``) read only through
``session.connection().execute(<prebuilt select>, params)``. Through SQLAlchemy's Connection one
such execute costs some 100-200 µs of CPU (events, compiled-cache lookup, parameter and result
machinery) for a query SQLite answers in 10 µs. ``PreparedReads`` stands in for that Connection:
each statement is compiled once per dialect, its parameters go through the bind processors of
their own types and its rows through the result processors of its columns, exactly as SQLAlchemy
would do them, on a DBAPI connection this thread keeps. Only what those reads use is offered:
``execute(stmt, params)`` returning rows with ``one_or_none()``, ``scalars()`` and iteration.

Transactions: on SQLite an answer runs in one deferred read transaction (``begin``/``end``: one
snapshot, no write lock); on PostgreSQL the connection is in autocommit, which under READ
COMMITTED gives each statement the snapshot it would have had inside a transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import Engine, Insert, Select, Update
from sqlalchemy.engine.interfaces import Dialect

Processor = Callable[[Any], Any] | None


class Rows(list[tuple[Any, ...]]):
    def one_or_none(self) -> tuple[Any, ...] | None:
        if len(self) > 1:
            raise LookupError("more than one row where at most one was expected")
        return self[0] if self else None

    def scalars(self) -> Iterator[Any]:
        return (r[0] for r in self)


class Prepared:
    """One statement compiled for one dialect, with its bind and result processors (a SELECT
    here; the audit sink's writer prepares its INSERT and UPDATE the same way)."""

    def __init__(self, stmt: Select[*tuple[Any, ...]] | Insert | Update, dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        self.binds: list[tuple[str, str, Any, Processor]] = []
        for name in names or ():
            bp = compiled.binds[name]
            if bp.expanding:
                raise ValueError(f"expanding parameter {name!r} is not supported here")
            default = bp.effective_value if bp.value is not None or bp.callable else None
            self.binds.append((name, bp.key, default, bp.type._cached_bind_processor(dialect)))
        self.results: list[Processor] = [
            entry[3]._cached_result_processor(dialect, None) for entry in compiled._result_columns
        ]
        self.plain = not any(self.results)

    def params(self, given: Mapping[str, Any]) -> Any:
        values = []
        for _name, key, default, proc in self.binds:
            v = given.get(key, default)
            values.append(proc(v) if proc is not None and v is not None else v)
        if self.positional:
            return tuple(values)
        return {b[0]: v for b, v in zip(self.binds, values, strict=True)}

    def rows(self, raw: list[Any]) -> Rows:
        if self.plain:
            return Rows(tuple(r) for r in raw)
        procs = self.results
        return Rows(
            tuple(p(v) if p is not None else v for p, v in zip(procs, r, strict=True)) for r in raw
        )


class PreparedReads:
    """A DBAPI connection of ``engine``'s pool, and the statements prepared for it."""

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        self.sqlite = engine.dialect.name == "sqlite"
        self._pooled = engine.raw_connection()
        dbapi = self._pooled.driver_connection
        assert dbapi is not None
        self._dbapi: Any = dbapi
        if not self.sqlite:
            self._dbapi.autocommit = True
        self._prepared: dict[int, tuple[Select[Any], Prepared]] = {}
        self._open = False

    def _prepare(self, stmt: Select[Any]) -> Prepared:
        hit = self._prepared.get(id(stmt))
        if hit is not None and hit[0] is stmt:
            return hit[1]
        p = Prepared(stmt, self.dialect)
        self._prepared[id(stmt)] = (stmt, p)  # the statement kept alive: its id stays its own
        return p

    def execute(self, stmt: Select[Any], params: Mapping[str, Any] | None = None) -> Rows:
        p = self._prepare(stmt)
        if self.sqlite and not self._open:
            self._dbapi.execute("BEGIN")
            self._open = True
        cur = self._dbapi.cursor()
        try:
            cur.execute(p.sql, p.params(params or {}))
            return p.rows(cur.fetchall())
        finally:
            cur.close()

    def end(self) -> None:
        """The end of one answer's reads (nothing was written)."""
        if self._open:
            self._open = False
            self._dbapi.execute("ROLLBACK")

    def close(self) -> None:
        self._open = False
        self._pooled.invalidate()
