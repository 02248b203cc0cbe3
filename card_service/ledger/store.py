"""The ledger's SQL, one class per database. Raw DB-API on the session's own connection (so it
shares the request's transaction), because the batch path writes tens of thousands of rows a second.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from card_service.ledger import history, rules
from card_service.ledger.clock import now_ns
from card_service.ledger.digest import content_hash, transfer_bytes
from card_service.ledger.results import LedgerError, Result
from card_service.ledger.rules import (
    EXPIRY_CODE,
    POST,
    AccountState,
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
CHUNK = 500
# SQLite: batches this large index a slice of account history while they are decided.
OVERLAP = 1000
COPY_THRESHOLD = 64
LIMITS = 3  # AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | CREDITS_MUST_NOT_EXCEED_DEBITS
_Found = TypeVar("_Found")  # what a fetch by id finds: a transfer, or a failure


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
        state, batch_id = self.prepare(conn, *_involved(requests))
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
        return fetch(conn, (self.to_id(k) for k in probe), probe) if probe else {}

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
                state, batch_id = self.prepare(conn, *_involved(requests))
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
            return self.prepare(reader, *_involved(requests))
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


class PostgresStore(Store):
    placeholder = "%s"
    for_update = " FOR UPDATE"

    def _in(self, conn: Any, sql: str, keys: Sequence[Any]) -> list[Any]:
        if not keys:
            return []
        cur = conn.cursor()
        kind = "uuid" if isinstance(keys[0], uuid.UUID) else "bigint"
        cur.execute(sql.replace("{IN}", f"= ANY(%s::{kind}[])"), (_array(keys),))
        return list(cur.fetchall())

    def prepare(
        self, conn: Any, ids: list[uuid.UUID], hold_ids: set[uuid.UUID], account_ids: set[int]
    ) -> tuple[BatchState, int]:
        """As Store.prepare, in one round trip: the reads, the batch id and the locks pipelined.

        A small batch that posts or voids no hold asks in one statement instead (fewer statements
        is less CPU on both sides, and a shorter hold of the hot accounts' locks). Its reads share
        one snapshot, which is sound because a transfer or failed id never changes once written.
        """
        if not hold_ids and len(ids) < COPY_THRESHOLD:
            return self._prepare_small(conn, ids, account_ids)
        holds = self._holds(conn, hold_ids, account_ids)
        cursors = [conn.cursor() for _ in range(6)]
        id_array, account_array = _uuid_array(ids), _array(sorted(account_ids))
        with conn.pipeline():
            cursors[0].execute(
                f"SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = ANY(%s::uuid[])",
                (id_array,),
            )
            cursors[1].execute(
                f"SELECT {FAILED_COLUMNS} FROM ledger_failed_transfers WHERE id = ANY(%s::uuid[])",
                (id_array,),
            )
            cursors[2].execute("SELECT nextval('ledger_batches_id_seq')")
            # ORDER BY below FOR UPDATE: rows are locked in id order, accounts with limits first
            # and then those without (as a small batch does), so batches never deadlock.
            cursors[3].execute(
                f"SELECT {ACCOUNT_STATE_COLUMNS} FROM ledger_accounts "
                f"WHERE id = ANY(%s::bigint[]) AND flags & {LIMITS} <> 0 ORDER BY id FOR UPDATE",
                (account_array,),
            )
            cursors[5].execute(
                f"SELECT {ACCOUNT_STATE_COLUMNS} FROM ledger_accounts "
                f"WHERE id = ANY(%s::bigint[]) AND flags & {LIMITS} = 0 ORDER BY id FOR UPDATE",
                (account_array,),
            )
            if hold_ids:
                cursors[4].execute(
                    "SELECT pending_id, flags, code FROM ledger_transfers "
                    "WHERE pending_id = ANY(%s::uuid[])",
                    (_array(hold_ids),),
                )
        known = {t.id: t for t in map(self._transfer, cursors[0].fetchall())}
        known.update(holds)
        failed = dict(map(self._failed, cursors[1].fetchall()))
        batch_id = int(cursors[2].fetchone()[0])
        accounts = {r[0]: AccountState(*r) for r in cursors[3].fetchall()}
        accounts.update({r[0]: AccountState(*r) for r in cursors[5].fetchall()})
        resolutions = dict(map(self._resolution, cursors[4].fetchall())) if hold_ids else {}
        return BatchState(accounts, known, failed, resolutions), batch_id

    def _prepare_small(
        self, conn: Any, ids: list[uuid.UUID], account_ids: set[int]
    ) -> tuple[BatchState, int]:
        """The two statements of a small batch run on generic plans: psycopg prepares them
        (same text, values as parameters), but PostgreSQL's default, plan_cache_mode = auto,
        re-plans them for their values on every call (their generic plans look dearer to it:
        it cannot see that the arrays hold one or two values), and planning them cost more
        than running them (~0.7 ms of server CPU per single transfer). The caller's setting is
        put back by the write (or by finish()), so the rest of its transaction is unchanged.
        """
        cur = conn.cursor()
        cur.execute(_GENERIC_PLANS)  # not pipelined: psycopg's pipeline costs more CPU than a trip
        restore = cur.fetchone()[0]
        cur.execute(_PREPARE_SMALL, {"ids": _array(ids), "accounts": _array(sorted(account_ids))})
        return self.small_state(cur.fetchone(), restore)

    def small_state(self, row: Sequence[Any], restore: str) -> tuple[BatchState, int]:
        """A small batch's state and id from the one row of _PREPARE_SMALL."""
        known_rows, failed_rows, batch_id, locked_rows, free_rows = row
        known = {t.id: t for t in map(self._transfer, map(_uuid_first, known_rows))}
        failed = dict(map(self._failed, map(_uuid_first, failed_rows)))
        accounts = {r[0]: AccountState(*r) for r in locked_rows}
        # Accounts without limits: read, not locked; their balances count from 0 in this batch.
        for r in free_rows:
            accounts[r[0]] = AccountState(r[0], r[1], r[2], r[3], 0, 0, 0, 0, r[8])
        relative = frozenset(r[0] for r in free_rows)
        state = BatchState(accounts, known, failed, {}, relative, restore=restore)
        return state, int(batch_id)

    def finish(self, conn: Any, state: BatchState) -> None:
        if state.restore is not None:
            conn.cursor().execute(_RESTORE_PLANS, (state.restore,))

    def settle(
        self,
        conn: Any,
        batch_id: int,
        ts: int,
        requests: list[TransferRequest],
        state: BatchState,
        expiring: bool,
    ) -> list[TransferResult]:
        """A large batch is written while it is decided: its rows go to the server by COPY as soon
        as they are final (rules.apply's sink), so the server inserts and indexes the first rows
        while this process decides the next ones, instead of the two taking turns.
        """
        if len(requests) < COPY_THRESHOLD:
            return super().settle(conn, batch_id, ts, requests, state, expiring)
        import psycopg

        cur = conn.cursor()
        hasher = hashlib.sha256()
        try:
            # Binary: less to format here and less to parse there (about 1 µs a row each side).
            with cur.copy(
                f"COPY ledger_transfers ({TRANSFER_COLUMNS}, batch_id) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types([*_TRANSFER_TYPES, "bigint"])
                write_row = copy.write_row

                def sink(rows: list[StoredTransfer]) -> None:
                    for t in rows:
                        write_row((*t, batch_id))
                    hasher.update(b"".join(map(transfer_bytes, rows)))

                out = rules.apply(requests, state, ts, expiring=expiring, sink=sink)
            if out.transfers or out.failed:
                self._write(cur, batch_id, ts, out, state.accounts, hasher.digest(), copied=True)
        except (psycopg.errors.UniqueViolation, IntegrityError) as exc:
            raise ConcurrentWrite(str(exc)) from exc
        return out.results

    def write(self, conn: Any, batch_id: int, ts: int, out: BatchOutput, state: BatchState) -> int:
        """Short writes go as one statement, which also locks the accounts without limits, adds
        their balance before the batch to their entries and their deltas to their row, moves the
        batch's timestamps after their newest entry, and hashes the batch's rows as written (so
        their locks are held only for this statement and the commit). COPY takes the long lists.
        """
        import psycopg

        cur = conn.cursor()
        try:
            if max(len(out.transfers), len(out.failed)) < COPY_THRESHOLD:
                if state.restore is None:  # prepared by the general path (holds): as small ones
                    cur.execute(_GENERIC_PLANS)
                    state.restore = cur.fetchone()[0]
                sql = _WRITE_SMALL if out.failed else _WRITE_SMALL_NO_FAILED
                cur.execute(sql, self.small_params(batch_id, ts, out, state))
                return int(cur.fetchone()[0])
            self._write(cur, batch_id, ts, out, state.accounts)
        except (psycopg.errors.UniqueViolation, IntegrityError) as exc:
            raise ConcurrentWrite(str(exc)) from exc
        return 0

    def small_params(
        self, batch_id: int, ts: int, out: BatchOutput, state: BatchState
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"batch": batch_id, "ts": ts, "n": len(out.transfers)}
        params["plans"] = state.restore
        if out.transfers:
            columns = zip(*out.transfers, strict=True)
            params.update({f"t{i}": _literal(col) for i, col in enumerate(columns)})
        else:
            params.update({f"t{i}": "{}" for i in range(13)})
        if out.failed:
            columns = zip(*self._failed_rows(out), strict=True)
            params.update({f"f{i}": _literal(col) for i, col in enumerate(columns)})
        relative = state.relative
        touched = [state.accounts[i] for i in out.touched]
        params["rel"] = _array(sorted(relative.intersection(out.touched)))
        params["a_id"] = _array([a.id for a in touched])
        params["a_dp"] = _array([a.dp for a in touched])
        params["a_cp"] = _array([a.cp for a in touched])
        params["a_dpe"] = _array([a.dpe for a in touched])
        params["a_cpe"] = _array([a.cpe for a in touched])
        params["a_ts"] = _array([a.ts_last for a in touched])
        params["a_rel"] = "{" + ",".join("t" if a.id in relative else "f" for a in touched) + "}"
        return params

    def _write(
        self,
        cur: Any,
        batch_id: int,
        ts: int,
        out: BatchOutput,
        accounts: dict[int, AccountState],
        digest: bytes | None = None,
        copied: bool = False,
    ) -> None:
        """The batch's rows (unless ``copied`` already, with their ``digest``), its failures and
        the balances of the accounts it touched."""
        if out.transfers:
            digest = digest or content_hash(out.transfers)
            cur.execute(
                "INSERT INTO ledger_batches (id, timestamp, transfer_count, content_hash, "
                "seal_key) VALUES (%s, %s, %s, %s, pg_current_xact_id()::text::bigint)",
                (batch_id, ts, len(out.transfers), digest),
            )
        if out.transfers and not copied:
            self._insert(
                cur,
                "ledger_transfers",
                f"{TRANSFER_COLUMNS}, batch_id",
                [(*t, batch_id) for t in out.transfers],
            )
        if out.failed:
            self._insert(cur, "ledger_failed_transfers", FAILED_COLUMNS, self._failed_rows(out))
        touched = [accounts[i] for i in out.touched]
        cur.execute(
            "UPDATE ledger_accounts AS a SET debits_posted = v.dp, credits_posted = v.cp, "
            "debits_pending = v.dpe, credits_pending = v.cpe, timestamp_last = v.ts "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], "
            "%s::bigint[], %s::bigint[]) AS v(id, dp, cp, dpe, cpe, ts) WHERE a.id = v.id",
            (
                _array([a.id for a in touched]),
                _array([a.dp for a in touched]),
                _array([a.cp for a in touched]),
                _array([a.dpe for a in touched]),
                _array([a.cpe for a in touched]),
                _array([a.ts_last for a in touched]),
            ),
        )

    @staticmethod
    def _insert(cur: Any, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
        if len(rows) >= COPY_THRESHOLD:
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(rows[0]))
            cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def seal_horizon(self, conn: Any) -> int:
        # Every transaction with an id below xmin has finished: its batches are final.
        cur = conn.cursor()
        cur.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(cur.fetchone()[0])


_TRANSFER_TYPES: tuple[str, ...] = ("uuid", "bigint", "bigint", "bigint", "uuid", "text", "text")
_TRANSFER_TYPES += ("smallint",)
_TRANSFER_TYPES += ("bigint",) * 5
_FAILED_TYPES = (*_TRANSFER_TYPES[:10], "text")


def _json_rows(columns: str, rest: str) -> str:
    # ARRAY(subquery), not json_agg: no aggregate to set up per call (the server's executor
    # start-up is a good part of a single transfer's cost).
    return f"ARRAY(SELECT json_build_array({columns}) {rest})"


_LOCKED = f"""FROM (
     SELECT {ACCOUNT_STATE_COLUMNS} FROM ledger_accounts
     WHERE id = ANY(%(accounts)s::bigint[]) AND flags & {LIMITS} <> 0
     ORDER BY id FOR UPDATE) AS locked"""
_FREE = f"FROM ledger_accounts WHERE id = ANY(%(accounts)s::bigint[]) AND flags & {LIMITS} = 0"
_PREPARE_SMALL = f"""
SELECT
  {_json_rows(TRANSFER_COLUMNS, "FROM ledger_transfers WHERE id = ANY(%(ids)s::uuid[])")},
  {_json_rows(FAILED_COLUMNS, "FROM ledger_failed_transfers WHERE id = ANY(%(ids)s::uuid[])")},
  nextval('ledger_batches_id_seq'),
  {_json_rows(ACCOUNT_STATE_COLUMNS, _LOCKED)},
  {_json_rows(ACCOUNT_STATE_COLUMNS, _FREE)}
"""


def _unnest(prefix: str, types: Sequence[str]) -> str:
    return ", ".join(f"%({prefix}{i})s::{t}[]" for i, t in enumerate(types))


# One transfer's line of the content hash, exactly as digest.transfer_bytes writes it.
_LINE = (
    "replace(r.id::text, '-', '') || '|' || r.dr || '|' || r.cr || '|' || r.amount || '|' || "
    "coalesce(replace(r.pending::text, '-', ''), '') || '|' || r.code || '|' || "
    "coalesce(r.ud, '') || '|' || r.flags || '|' || r.timeout || '|' || "
    "coalesce(r.expires::text, '') || '|' || r.ts || '|' || r.drb || '|' || r.crb || chr(10)"
)

_WRITE_SMALL_TEMPLATE = f"""
WITH locked AS MATERIALIZED (
  SELECT id, credits_posted - debits_posted AS balance, timestamp_last
  FROM ledger_accounts WHERE id = ANY(%(rel)s::bigint[]) ORDER BY id FOR UPDATE
), shift AS MATERIALIZED (
  SELECT greatest(0, coalesce(max(timestamp_last), 0) + 1 - %(ts)s) AS s FROM locked
), rows AS MATERIALIZED (
  -- Scalar subqueries rather than joins, and no GROUP BY below: fewer plan nodes to start up.
  SELECT t.id, t.dr, t.cr, t.amount, t.pending, t.code, t.ud, t.flags, t.timeout,
    t.expires + (SELECT s FROM shift) AS expires, t.ts + (SELECT s FROM shift) AS ts,
    t.drb + coalesce((SELECT balance FROM locked WHERE id = t.dr), 0) AS drb,
    t.crb + coalesce((SELECT balance FROM locked WHERE id = t.cr), 0) AS crb, t.n
  FROM unnest({_unnest("t", _TRANSFER_TYPES)}) WITH ORDINALITY
    AS t(id, dr, cr, amount, pending, code, ud, flags, timeout, expires, ts, drb, crb, n)
), batch AS (
  INSERT INTO ledger_batches (id, timestamp, transfer_count, content_hash, seal_key)
  SELECT %(batch)s, %(ts)s + (SELECT s FROM shift), %(n)s,
    sha256(convert_to(string_agg({_LINE}, '' ORDER BY r.n), 'UTF8')),
    pg_current_xact_id()::text::bigint
  FROM rows AS r HAVING count(*) > 0
), transfers AS (
  INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}, batch_id)
  SELECT id, dr, cr, amount, pending, code, ud, flags, timeout, expires, ts, drb, crb, %(batch)s
  FROM rows
){{failed}}, accounts AS (
  UPDATE ledger_accounts AS a SET
    debits_posted = v.dp + CASE WHEN v.rel THEN a.debits_posted ELSE 0 END,
    credits_posted = v.cp + CASE WHEN v.rel THEN a.credits_posted ELSE 0 END,
    debits_pending = v.dpe + CASE WHEN v.rel THEN a.debits_pending ELSE 0 END,
    credits_pending = v.cpe + CASE WHEN v.rel THEN a.credits_pending ELSE 0 END,
    -- greatest(): an account without limits touched only by a linked chain that failed comes back
    -- with the timestamp read before its lock, which a newer entry may have passed since.
    timestamp_last = greatest(a.timestamp_last, v.ts + (SELECT s FROM shift))
  FROM unnest(%(a_id)s::bigint[], %(a_dp)s::bigint[], %(a_cp)s::bigint[], %(a_dpe)s::bigint[],
              %(a_cpe)s::bigint[], %(a_ts)s::bigint[], %(a_rel)s::boolean[])
    AS v(id, dp, cp, dpe, cpe, ts, rel)
  WHERE a.id = v.id
)
SELECT s, set_config('plan_cache_mode', %(plans)s, true) FROM shift
"""
_WRITE_SMALL = _WRITE_SMALL_TEMPLATE.format(
    failed=f""", failed AS (
  INSERT INTO ledger_failed_transfers ({FAILED_COLUMNS})
  SELECT * FROM unnest({_unnest("f", _FAILED_TYPES)})
)"""
)
# Most small batches record no failure: without that insert, 11 parameters fewer to send and parse.
_WRITE_SMALL_NO_FAILED = _WRITE_SMALL_TEMPLATE.format(failed="")

# The caller's plan_cache_mode, and generic plans for the rest of this call (see _prepare_small).
_GENERIC_PLANS = (
    "SELECT current_setting('plan_cache_mode'), "
    "set_config('plan_cache_mode', 'force_generic_plan', true)"
)
_RESTORE_PLANS = "SELECT set_config('plan_cache_mode', %s, true)"


def _uuid_first(row: list[Any]) -> list[Any]:
    """A JSON row's transfer id and pending id (columns 0 and 4) back to UUIDs."""
    row[0] = uuid.UUID(row[0])
    if row[4] is not None:
        row[4] = uuid.UUID(row[4])
    return row


def _literal(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal of any column: NULLs, and strings quoted (psycopg's own list
    dumper costs more than the rest of a small batch's write)."""
    return "{" + ",".join(map(_element, values)) + "}"


def _element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def _array(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal of ints or UUIDs: far cheaper to send than a dumped list."""
    return "{" + ",".join(map(str, values)) + "}"


def _uuid_array(values: Iterable[uuid.UUID]) -> str:
    """An array literal of UUIDs as 32 hex digits each (str() of a UUID costs four times more)."""
    return "{" + ",".join([f"{u.int:032x}" for u in values]) + "}"


_SQLITE = SQLiteStore()
_POSTGRES = PostgresStore()


def _involved(
    requests: list[TransferRequest],
) -> tuple[list[uuid.UUID], set[uuid.UUID], set[int]]:
    """A batch's ids, the holds it posts or voids, and the accounts it names."""
    ids = [r.id for r in requests]
    hold_ids = {r.pending_id for r in requests if r.pending_id is not None}
    account_ids = {r.debit_account_id for r in requests} | {r.credit_account_id for r in requests}
    account_ids.discard(0)
    return ids, hold_ids, account_ids


def _unwritten(conn: Any) -> bool:
    """An engine's SQLite connection (db.SQLiteConnection) whose transaction has written
    nothing yet; False for any other connection."""
    unwritten = getattr(conn, "unwritten", None)
    return bool(unwritten and unwritten())


def _sample(requests: list[TransferRequest]) -> list[int]:
    """The accounts of every fourth request's two entries, sorted: where a batch's entries fall."""
    some = requests[::4]
    return sorted([r.debit_account_id for r in some] + [r.credit_account_id for r in some])


def store_for(session: Session) -> Store:
    return store_for_dialect(session.get_bind().dialect.name)


def store_for_dialect(name: str) -> Store:
    return _POSTGRES if name == "postgresql" else _SQLITE
