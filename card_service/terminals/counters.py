"""The database's ``CounterLedger`` (card_service.protocol.settlement) used at settlement.

A claim is a row in the caller's transaction: it commits with the settlement that relied on it,
or rolls back with it. Two settlements claiming the same counter at once: the unique key makes
the second wait for the first, then find the row and refuse (a replayed tap).
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from card_service.ledger.clock import now_ns
from card_service.terminals.models import SettledCounter


class DbCounterLedger:
    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, uid: bytes, counter: int) -> bool:
        """Record ``counter`` for the card; False if it was recorded before."""
        dialect = self.session.get_bind().dialect.name
        values = {"card_uid": uid, "counter": counter, "settled_at": now_ns()}
        make = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            make(SettledCounter)
            .values(values)
            .on_conflict_do_nothing()
            .returning(SettledCounter.counter)
        )
        return self.session.execute(statement).first() is not None
