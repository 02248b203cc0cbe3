"""Set membership and bulk inserts that stay cheap for batches of thousands.

On PostgreSQL ``column = ANY(array)`` sends one parameter instead of thousands (parsing and
binding a 5,000-item IN list costs more than the query), and COPY writes rows in one stream.
SQLite gets a plain IN list (in chunks below its variable limit) and executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.types import TypeEngine

SQLITE_CHUNK = 5000


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


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
        return [column == any_(bindparam(None, list(values), type_=ARRAY(item_type)))]
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
