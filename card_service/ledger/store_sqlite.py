"""The ledger's SQL on SQLite: one writer at a time, an in-process database (no round trips),
and the account history indexed in sorted runs beside each large batch (history.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from card_service.ledger import history, rules
from card_service.ledger.clock import now_ns
from card_service.ledger.digest import content_hash
from card_service.ledger.rules import AccountState, BatchOutput, BatchState
from card_service.ledger.schemas import TransferRequest, TransferResult
from card_service.ledger.store import (
    ACCOUNT_STATE_COLUMNS,
    FAILED_COLUMNS,
    TRANSFER_COLUMNS,
    ConcurrentWrite,
    Store,
    involved,
)

CHUNK = 500
# Batches this large index a slice of account history while they are decided.
OVERLAP = 1000
_Found = TypeVar("_Found")  # what a fetch by id finds: a transfer, or a failure

_INSERT = (
    f"INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}, batch_id) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
# Fast-path transfers: no pending id, flags 0, no timeout, no expiry.
_PLAIN_INSERT = (
    "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount_cents, code, "
    "user_data, timestamp, debit_balance_after, credit_balance_after, batch_id, flags, timeout_s) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,0,0)"
)


class SQLiteStore(Store):
    def uid(self, value: uuid.UUID | None) -> Any:
        return None if value is None else value.bytes

    def to_uuid(self, value: Any) -> uuid.UUID | None:
        return None if value is None else uuid.UUID(bytes=bytes(value))

    def _in(self, conn: Any, sql: str, keys: Sequence[Any]) -> list[Any]:
        rows: list[Any] = []
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i : i + CHUNK]
            marks = ",".join("?" * len(chunk))
            rows.extend(conn.execute(sql.replace("{IN}", f"IN ({marks})"), chunk).fetchall())
        return rows

    def prepare(
        self, conn: Any, ids: list[uuid.UUID], hold_ids: set[uuid.UUID], account_ids: set[int]
    ) -> tuple[BatchState, int]:
        """As Store.prepare, one query after another (an in-process database: no round trips)."""
        holds = self._holds(conn, hold_ids, account_ids)
        keys = [i.bytes for i in ids]  # converted once: read twice here, written by write()
        known = self._fetch_named(conn, keys, "ledger_transfers", self.fetch_transfers)
        known.update(holds)
        failed = self._fetch_named(conn, keys, "ledger_failed_transfers", self.fetch_failed)
        batch_id = self.next_batch_id(conn)
        accounts = self.lock_accounts(conn, sorted(account_ids))
        resolutions = self.fetch_resolutions(conn, hold_ids) if hold_ids else {}
        # No id twice, and no post or void that could name one of the batch's own transfers
        # (bytes hash in C; the UUIDs themselves would cost a Python call each).
        unique = not hold_ids and len(set(keys)) == len(keys)
        state = BatchState(accounts, known, failed, resolutions, id_keys=keys, unique_ids=unique)
        return state, batch_id

    def _fetch_named(
        self,
        conn: Any,
        keys: list[bytes],
        table: str,
        fetch: Callable[[Any, Iterable[uuid.UUID], list[Any]], dict[uuid.UUID, _Found]],
    ) -> dict[uuid.UUID, _Found]:
        """``fetch`` for those of the batch's ids that may be stored in ``table``.

        An id above the table's largest (one step down its unique index) names nothing there.
        Time-ordered ids (ledger.ids), as clients are advised to use, are all above it except
        for retries and late uploads, so a fresh batch looks none up. SQLite compares BLOBs as
        Python compares bytes (memcmp, then length).
        """
        top = conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
        if top is None:
            return {}
        probe = [k for k in keys if k <= top]
        return fetch(conn, (), probe) if probe else {}  # by keys alone: no ids to convert

    def lock_accounts(self, conn: Any, ids: Sequence[int]) -> dict[int, AccountState]:
        # BEGIN IMMEDIATE already holds the database's write lock for this transaction.
        sql = f"SELECT {ACCOUNT_STATE_COLUMNS} FROM ledger_accounts WHERE id {{IN}}"
        return {r[0]: AccountState(*r) for r in self._in(conn, sql, list(ids))}

    def next_batch_id(self, conn: Any) -> int:
        return int(
            conn.execute("SELECT coalesce(max(id), 0) + 1 FROM ledger_batches").fetchone()[0]
        )

    def create(
        self, conn: Any, requests: list[TransferRequest], expiring: bool
    ) -> list[TransferResult]:
        """As Store.create; a large batch also indexes a slice of account history meanwhile (in a
        thread, on this connection: see history.py), and a small one catches the index up if it
        has fallen far behind.

        The slice runs while this thread decides, hashes and lays out the rows. When the
        transaction has written nothing yet, it starts even earlier: the batch's accounts and ids
        are then read on the connection's sibling, which sees the very same snapshot (see
        db.SQLiteConnection), while this connection writes the slice.
        """
        piece = history.next_slice(conn, _sample(requests)) if len(requests) >= OVERLAP else None
        indexer = history.Indexer(conn, piece) if piece is not None else None
        reader = conn.sibling() if indexer is not None and _unwritten(conn) else None
        try:
            if indexer is not None and reader is not None:
                indexer.start()
                state, batch_id = self._read_apart(reader, requests)
            else:
                state, batch_id = self.prepare(conn, *involved(requests))
                if indexer is not None:
                    indexer.start()
            ts = rules.first_timestamp(state, now_ns())
            out = rules.apply(requests, state, ts, expiring=expiring)
            insert, rows = self._rows(batch_id, out, state)
            digest = content_hash(out.transfers) if out.transfers else b""
        finally:
            if indexer is not None:
                indexer.finish()
        if not (out.transfers or out.failed):
            return out.results
        self._write(conn, batch_id, ts, out, state, insert, rows, digest)
        if indexer is None and out.transfers:
            history.catch_up(conn, 4 * history.INDEX_EVERY)
        return out.results

    def _read_apart(self, reader: Any, requests: list[TransferRequest]) -> tuple[BatchState, int]:
        """prepare(), in one read transaction of the sibling connection."""
        reader.execute("BEGIN")
        try:
            return self.prepare(reader, *involved(requests))
        finally:
            reader.execute("COMMIT")

    @staticmethod
    def _rows(
        batch_id: int, out: BatchOutput, state: BatchState
    ) -> tuple[str, list[tuple[Any, ...]]]:
        """The statement and the batch's transfer rows as SQLite stores them; transfers all from
        the fast path leave out the columns they all have empty (fewer values to bind a row)."""
        # Every request became a transfer, in order: their ids are the batch's, converted.
        keys = state.id_keys
        if len(keys) != len(out.transfers):
            keys = [t[0].bytes for t in out.transfers]
        if not out.general:
            return _PLAIN_INSERT, [
                (key, t[1], t[2], t[3], t[5], t[6], t[10], t[11], t[12], batch_id)
                for key, t in zip(keys, out.transfers, strict=True)
            ]
        return _INSERT, [
            (
                key, t[1], t[2], t[3], t[4].bytes if t[4] else None, t[5], t[6], t[7], t[8],
                t[9], t[10], t[11], t[12], batch_id,
            )
            for key, t in zip(keys, out.transfers, strict=True)
        ]  # fmt: skip

    def _write(
        self,
        conn: Any,
        batch_id: int,
        ts: int,
        out: BatchOutput,
        state: BatchState,
        insert: str,
        rows: list[tuple[Any, ...]],
        digest: bytes,
    ) -> None:
        accounts = state.accounts
        try:
            if rows:
                conn.execute(
                    "INSERT INTO ledger_batches (id, timestamp, transfer_count, content_hash, "
                    "seal_key) VALUES (?, ?, ?, ?, ?)",
                    (batch_id, ts, len(rows), digest, batch_id),
                )
                conn.executemany(insert, rows)
            if out.failed:
                conn.executemany(
                    f"INSERT INTO ledger_failed_transfers ({FAILED_COLUMNS}) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    self._failed_rows(out),
                )
            conn.executemany(
                "UPDATE ledger_accounts SET debits_posted = ?, credits_posted = ?, "
                "debits_pending = ?, credits_pending = ?, timestamp_last = ? WHERE id = ?",
                [
                    (a.dp, a.cp, a.dpe, a.cpe, a.ts_last, a.id)
                    for a in (accounts[i] for i in out.touched)
                ],
            )
        except Exception as exc:  # sqlite3.IntegrityError: a same id written by another writer
            if "UNIQUE" in str(exc):
                raise ConcurrentWrite(str(exc)) from exc
            raise

    def seal_horizon(self, conn: Any) -> int:
        # One writer at a time: every batch visible now is committed and final.
        return int(
            conn.execute("SELECT coalesce(max(id), 0) + 1 FROM ledger_batches").fetchone()[0]
        )


def _unwritten(conn: Any) -> bool:
    """An engine's SQLite connection (db.SQLiteConnection) whose transaction has written
    nothing yet; False for any other connection."""
    unwritten = getattr(conn, "unwritten", None)
    return bool(unwritten and unwritten())


def _sample(requests: list[TransferRequest]) -> list[int]:
    """The accounts of every fourth request's two entries, sorted: where a batch's entries fall."""
    some = requests[::4]
    return sorted([r.debit_account_id for r in some] + [r.credit_account_id for r in some])
