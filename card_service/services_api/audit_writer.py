"""The audit sink's writer: one group of records, one transaction, on a DBAPI connection it keeps.

Through an ORM Session, ``audit.service.record_many`` cost about 1.6 ms of CPU for a group of one
record and 2.3 ms for sixteen (SQLite), most of it SQLAlchemy building and caching the three
statements it makes anew each call, and the Session's transaction machinery. A group is always
the same three statements, so they are compiled once per dialect here (``prepared.Prepared``)
and run straight on the driver: lock and read the chain's head, insert the group in one
``executemany``, move the head. The same group costs about 0.2-0.35 ms.

The rows are the trail's own: ``audit.service.chain_rows`` fills and hashes them, as it does for
``record_many``, so ``audit.service.verify`` checks them as any other
(tests/services_api/test_audit_writer.py writes through both and verifies the chain).
SQLite: ``BEGIN IMMEDIATE`` as every writer there, and no automatic WAL checkpoint inside the
writer's COMMIT (audit_wal.py runs them in a thread of their own). PostgreSQL: the head row
``FOR UPDATE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update

from card_service.audit.models import AuditEvent, AuditHead
from card_service.audit.service import PendingEvent, chain_rows
from card_service.services_api.audit_wal import autocheckpoint_again, no_autocheckpoint
from card_service.services_api.prepared import Prepared

_READ_HEAD = (
    select(AuditHead.position, AuditHead.hash)
    .where(AuditHead.id == bindparam("head_id"))
    .with_for_update()
)
_INSERT = insert(AuditEvent)  # every column, each a parameter named after it
_MOVE_HEAD = (
    update(AuditHead)
    .where(AuditHead.id == bindparam("head_id"))
    .values(position=bindparam("new_position"), hash=bindparam("new_hash"))
)
HEAD_ID = 1


class AuditWriter:
    """Appends groups of records; used by one thread at a time (the sink's writer)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        self._sqlite = dialect.name == "sqlite"
        self._read_head = Prepared(_READ_HEAD, dialect)
        self._insert = Prepared(_INSERT, dialect)
        self._move_head = Prepared(_MOVE_HEAD, dialect)
        self._pooled: Any = None

    def write(self, events: Sequence[PendingEvent]) -> None:
        """Append ``events`` in one transaction; raises (and rolls back) if it cannot."""
        if not events:
            return
        if self._pooled is None:
            pooled = self._engine.raw_connection()
            no_autocheckpoint(pooled.driver_connection, self._engine)
            self._pooled = pooled
        dbapi: Any = self._pooled.driver_connection
        try:
            if self._sqlite:
                dbapi.execute("BEGIN IMMEDIATE")
            cur = dbapi.cursor()
            try:
                cur.execute(self._read_head.sql, self._read_head.params({"head_id": HEAD_ID}))
                found = self._read_head.rows(cur.fetchall()).one_or_none()
                if found is None:
                    raise LookupError("the audit trail has no head row")
                rows = chain_rows(found[0], found[1], events)
                cur.executemany(self._insert.sql, [self._insert.params(r) for r in rows])
                last = rows[-1]
                cur.execute(
                    self._move_head.sql,
                    self._move_head.params(
                        {
                            "head_id": HEAD_ID,
                            "new_position": last["position"],
                            "new_hash": last["hash"],
                        }
                    ),
                )
            finally:
                cur.close()
            if self._sqlite:
                dbapi.execute("COMMIT")
            else:
                dbapi.commit()
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        """After a failure: roll back, and the next group starts on a fresh connection."""
        pooled, self._pooled = self._pooled, None
        if pooled is not None:
            pooled.invalidate()  # closes the DBAPI connection: what was not committed is gone

    def close(self) -> None:
        pooled, self._pooled = self._pooled, None
        if pooled is None:
            return
        try:
            autocheckpoint_again(pooled.driver_connection, self._engine)
        except Exception:  # a connection that cannot take a pragma is not one to give back
            pooled.invalidate()
            raise
        pooled.close()  # back to the pool (which rolls back anything left open)
