"""Reading an append-only change log in commit order, for terminals that sync it by cursor.

An autoincrement position alone is not a sound cursor on PostgreSQL: two transactions take
positions 5 and 6, the one with 6 commits first, a terminal reads 6 and moves its cursor past 5,
which then commits and is never seen. As the ledger's sealer does (docs/decisions/0002), each row
carries ``commit_key``, the id of the transaction that wrote it, and a reader hands out only rows
whose transaction id is below the snapshot's ``xmin``: every such transaction has finished, and any
row written later will have a key at or above that horizon. The cursor is (commit_key, position).
On SQLite there is one writer at a time and commits happen in position order: the key is 0 and
the horizon unbounded.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, literal_column, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from card_service.cards.models import DenyListChange

UNBOUNDED = 2**62
Cursor = tuple[int, int]
START: Cursor = (0, 0)
Row = TypeVar("Row")


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def commit_key(session: Session) -> Any:
    """The value to store in ``commit_key``: an SQL expression on PostgreSQL, 0 on SQLite."""
    if _postgres(session):
        return literal_column("pg_current_xact_id()::text::bigint")
    return 0


def horizon(session: Session) -> int:
    """Rows with a commit_key below this belong to transactions that have all finished."""
    if not _postgres(session):
        return UNBOUNDED
    value = session.scalar(
        select(literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
    )
    return int(value or 0)


def changes_since(
    session: Session,
    model: type[Row],
    key: InstrumentedAttribute[int],
    position: InstrumentedAttribute[int],
    after: Cursor,
    limit: int,
    where: ColumnElement[bool] | None = None,
) -> tuple[list[Row], Cursor, bool]:
    """Rows after ``after`` in (commit_key, position) order, below the horizon; the cursor to
    continue from, and whether more rows were final already (page again)."""
    stmt = (
        select(model)
        .where(tuple_(key, position) > tuple_(after[0], after[1]), key < horizon(session))
        .order_by(key, position)
        .limit(limit + 1)
    )
    if where is not None:
        stmt = stmt.where(where)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = after
    if rows:
        last = rows[-1]
        cursor = (int(getattr(last, key.key)), int(getattr(last, position.key)))
    return rows, cursor, more


def deny_list_since(
    session: Session, after: Cursor = START, limit: int = 1000
) -> tuple[list[DenyListChange], Cursor, bool]:
    """The cards' deny-list changes after ``after``: (changes, next cursor, more to page)."""
    return changes_since(
        session, DenyListChange, DenyListChange.commit_key, DenyListChange.position, after, limit
    )
