"""Set membership and bulk inserts that stay cheap for batches of thousands.

On PostgreSQL ``column = ANY(array)`` sends one parameter instead of thousands (parsing and
binding a 5,000-item IN list costs more than the query), written as an array literal (one string
join: psycopg's dumper of a Python list costs several microseconds an item), and COPY writes rows
in one stream.
SQLite gets a plain IN list (in chunks below its variable limit) and executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.types import NullType, TypeEngine

SQLITE_CHUNK = 5000


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def array_literal(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal of ints or strings (strings quoted and escaped)."""
    if values and type(values[0]) is int and all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join(map(_element, values)) + "}"


def _element(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(int(value))


def member_chunks(
    session: Session,
    column: InstrumentedAttribute[Any],
    values: Sequence[Any],
    item_type: TypeEngine[Any],
) -> list[ColumnElement[bool]]:
    """Conditions ``column in values``: one on PostgreSQL, one per chunk on SQLite."""
    if not values:
        return []
    if is_postgres(session):
        # An untyped parameter cast to the array: PostgreSQL parses the literal once, at bind
        # time (a text parameter cast per row would be parsed again for every row).
        literal = bindparam(None, array_literal(values), type_=NullType())
        return [column == any_(cast(literal, ARRAY(item_type)))]
    return [
        column.in_(list(values[at : at + SQLITE_CHUNK]))
        for at in range(0, len(values), SQLITE_CHUNK)
    ]


def copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows in the session's transaction: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    raw = session.connection().connection.driver_connection
    assert raw is not None
    names = ", ".join(columns)
    if is_postgres(session):
        with raw.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(columns))
        raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
