"""The ledger's SQL on PostgreSQL: concurrent writers, each batch in as few round trips as it
can (pipelined reads, COPY for large batches, one statement for small ones: see alone.py too)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from card_service.ledger import rules
from card_service.ledger.digest import content_hash, transfer_bytes
from card_service.ledger.rules import AccountState, BatchOutput, BatchState, StoredTransfer
from card_service.ledger.schemas import TransferRequest, TransferResult
from card_service.ledger.store import (
    ACCOUNT_STATE_COLUMNS,
    FAILED_COLUMNS,
    LIMITS,
    TRANSFER_COLUMNS,
    ConcurrentWrite,
    Store,
)

COPY_THRESHOLD = 64


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
