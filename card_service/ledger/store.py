"""The ledger's SQL: what both databases share, and the store for each (``store_sqlite.py``,
``store_postgres.py``). Raw DB-API on the session's own connection (so it shares the request's
transaction), because the batch path writes tens of thousands of rows a second.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from card_service.ledger import rules
from card_service.ledger.clock import now_ns
from card_service.ledger.results import LedgerError, Result
from card_service.ledger.rules import (
    EXPIRY_CODE,
    POST,
    BatchOutput,
    BatchState,
    StoredTransfer,
)
from card_service.ledger.schemas import TransferRequest, TransferResult

TRANSFER_COLUMNS = (
    "id, debit_account_id, credit_account_id, amount_cents, pending_id, code, user_data, flags, "
    "timeout_s, expires_at, timestamp, debit_balance_after, credit_balance_after"
)
FAILED_COLUMNS = (
    "id, debit_account_id, credit_account_id, amount_cents, pending_id, code, user_data, flags, "
    "timeout_s, timestamp, result"
)
ACCOUNT_STATE_COLUMNS = (
    "id, currency, flags, floor_cents, debits_posted, credits_posted, debits_pending, "
    "credits_pending, timestamp_last"
)
LIMITS = 3  # AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | CREDITS_MUST_NOT_EXCEED_DEBITS


class ConcurrentWrite(LedgerError):
    """Another transaction wrote the same transfer id first; retrying the call is safe."""

    code = "concurrent_write"
    status = 409


class Store:
    placeholder = "?"

    def raw(self, session: Session) -> Any:
        return session.connection().connection.driver_connection

    # -- conversions -----------------------------------------------------------------------
    def uid(self, value: uuid.UUID | None) -> Any:
        return value

    def to_uuid(self, value: Any) -> uuid.UUID | None:
        return value  # type: ignore[no-any-return]

    def to_id(self, value: Any) -> uuid.UUID:
        out = self.to_uuid(value)
        assert out is not None
        return out

    def _transfer(self, row: Sequence[Any]) -> StoredTransfer:
        return StoredTransfer._make(
            (self.to_id(row[0]), *row[1:4], self.to_uuid(row[4]), *row[5:13])
        )

    # -- reads -----------------------------------------------------------------------------
    def _in(self, conn: Any, sql: str, keys: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def fetch_transfers(
        self, conn: Any, ids: Iterable[uuid.UUID], keys: list[Any] | None = None
    ) -> dict[uuid.UUID, StoredTransfer]:
        keys = [self.uid(i) for i in ids] if keys is None else keys
        sql = f"SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE id {{IN}}"
        out = {}
        for row in self._in(conn, sql, keys):
            t = self._transfer(row)
            out[t.id] = t
        return out

    def _failed(self, row: Sequence[Any]) -> tuple[uuid.UUID, tuple[StoredTransfer, Result]]:
        # Failed rows have no expires_at; their stored columns are otherwise a transfer's.
        t = StoredTransfer._make(
            (self.to_id(row[0]), *row[1:4], self.to_uuid(row[4]), *row[5:9], None, row[9], 0, 0)
        )
        return t.id, (t, Result(row[10]))

    def _resolution(self, row: Sequence[Any]) -> tuple[uuid.UUID, str]:
        pid, flags, code = row
        kind = "posted" if flags & POST else ("expired" if code == EXPIRY_CODE else "voided")
        return self.to_id(pid), kind

    def fetch_failed(
        self, conn: Any, ids: Iterable[uuid.UUID], keys: list[Any] | None = None
    ) -> dict[uuid.UUID, tuple[StoredTransfer, Result]]:
        keys = [self.uid(i) for i in ids] if keys is None else keys
        sql = f"SELECT {FAILED_COLUMNS} FROM ledger_failed_transfers WHERE id {{IN}}"
        return dict(map(self._failed, self._in(conn, sql, keys)))

    def fetch_resolutions(
        self, conn: Any, pending_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        keys = [self.uid(i) for i in pending_ids]
        sql = "SELECT pending_id, flags, code FROM ledger_transfers WHERE pending_id {IN}"
        return dict(map(self._resolution, self._in(conn, sql, keys)))

    def prepare(
        self, conn: Any, ids: list[uuid.UUID], hold_ids: set[uuid.UUID], account_ids: set[int]
    ) -> tuple[BatchState, int]:
        """Everything a batch decides on, with its accounts locked; and the batch's id.

        Transfers and failed ids never change once written, so what an id already means may be
        read before the locks. Should another transaction write one of these ids meanwhile, the
        unique index refuses ours (ConcurrentWrite) and the caller's retry gets the stored answer.
        Whether a hold is still open is state: it is read after its accounts are locked.
        """
        raise NotImplementedError

    def _holds(
        self, conn: Any, hold_ids: set[uuid.UUID], account_ids: set[int]
    ) -> dict[uuid.UUID, StoredTransfer]:
        """The holds a batch posts or voids; their accounts join the ones to lock."""
        holds = self.fetch_transfers(conn, hold_ids) if hold_ids else {}
        for hold in holds.values():
            account_ids.update((hold.debit_account_id, hold.credit_account_id))
        return holds

    # -- writes ----------------------------------------------------------------------------
    def create(
        self, conn: Any, requests: list[TransferRequest], expiring: bool
    ) -> list[TransferResult]:
        """Prepare, decide and record a batch in the connection's transaction."""
        state, batch_id = self.prepare(conn, *involved(requests))
        base = rules.first_timestamp(state, now_ns())
        return self.settle(conn, batch_id, base, requests, state, expiring)

    def settle(
        self,
        conn: Any,
        batch_id: int,
        ts: int,
        requests: list[TransferRequest],
        state: BatchState,
        expiring: bool,
    ) -> list[TransferResult]:
        """Decide the prepared batch and record it; a result per request."""
        out = rules.apply(requests, state, ts, expiring=expiring)
        if not (out.transfers or out.failed):
            self.finish(conn, state)
            return out.results
        return rules.shifted(out.results, self.write(conn, batch_id, ts, out, state))

    def write(self, conn: Any, batch_id: int, ts: int, out: BatchOutput, state: BatchState) -> int:
        """Record the batch's rows and balances; returns how much later (ns) than ``ts`` the
        batch's timestamps were written (0 unless the write took a lock on a newer account)."""
        raise NotImplementedError

    def finish(self, conn: Any, state: BatchState) -> None:
        """Called instead of write() when a batch writes nothing (every request replayed)."""

    def _failed_rows(self, out: BatchOutput) -> list[tuple[Any, ...]]:
        return [
            (
                self.uid(t.id),
                t.debit_account_id,
                t.credit_account_id,
                t.amount_cents,
                self.uid(t.pending_id),
                t.code,
                t.user_data,
                t.flags,
                t.timeout_s,
                t.timestamp,
                result.value,
            )
            for t, result in out.failed
        ]

    # -- sealing ---------------------------------------------------------------------------
    def lock_seal_state(self, conn: Any) -> tuple[int, bytes, int]:
        cur = conn.cursor()
        cur.execute(
            "SELECT position, chain_hash, horizon FROM ledger_seal_state WHERE id = 1"
            + self.for_update
        )
        row = cur.fetchone()
        if row is None:
            raise LedgerError("ledger_seal_state is missing: run the migrations")
        return int(row[0]), bytes(row[1]), int(row[2])

    for_update = ""

    def seal_horizon(self, conn: Any) -> int:
        raise NotImplementedError

    def batches_to_seal(self, conn: Any, low: int, high: int) -> list[tuple[int, bytes]]:
        p = self.placeholder
        cur = conn.cursor()
        cur.execute(
            "SELECT b.id, b.content_hash FROM ledger_batches b "
            "LEFT JOIN ledger_chain c ON c.batch_id = b.id "
            f"WHERE b.seal_key >= {p} AND b.seal_key < {p} AND c.batch_id IS NULL "
            "ORDER BY b.seal_key, b.id",
            (low, high),
        )
        return [(int(i), bytes(h)) for i, h in cur.fetchall()]

    def append_chain(
        self,
        conn: Any,
        links: list[tuple[int, int, bytes]],
        position: int,
        head: bytes,
        horizon: int,
    ) -> None:
        p = self.placeholder
        cur = conn.cursor()
        if links:
            cur.executemany(
                f"INSERT INTO ledger_chain (position, batch_id, chain_hash) VALUES ({p}, {p}, {p})",
                links,
            )
        cur.execute(
            f"UPDATE ledger_seal_state SET position = {p}, chain_hash = {p}, horizon = {p} "
            "WHERE id = 1",
            (position, head, horizon),
        )


def involved(
    requests: list[TransferRequest],
) -> tuple[list[uuid.UUID], set[uuid.UUID], set[int]]:
    """A batch's ids, the holds it posts or voids, and the accounts it names."""
    ids = [r.id for r in requests]
    hold_ids = {r.pending_id for r in requests if r.pending_id is not None}
    account_ids = {r.debit_account_id for r in requests} | {r.credit_account_id for r in requests}
    account_ids.discard(0)
    return ids, hold_ids, account_ids


_STORES: dict[str, Store] = {}


def store_for(session: Session) -> Store:
    return store_for_dialect(session.get_bind().dialect.name)


def store_for_dialect(name: str) -> Store:
    store = _STORES.get(name)
    if store is None:
        # Imported here: both modules build on this one.
        from card_service.ledger.store_postgres import PostgresStore
        from card_service.ledger.store_sqlite import SQLiteStore

        store = _STORES.setdefault(name, PostgresStore() if name == "postgresql" else SQLiteStore())
    return store
