"""A single transfer in a PostgreSQL transaction of its own: one round trip, else two.

A plain transfer that will succeed (the kind nearly every single transfer is) is decided and
written by one prepared statement, in one round trip and an implicit transaction of its own:
``once`` below. Its conditions are those of ``rules._plain``, the settlement fast path, and
nothing else: a request that fails any of them (a replay, an unknown account, a purse without
the funds...) writes nothing there and takes the two-trip path, whose Python rules name the
result. So a statement may only ever say "not here", never decide a failure.

The two-trip path:

The session path costs five: psycopg's BEGIN (it waits for the answer), the plan setting, the
prepare, the write and the COMMIT; on a loaded machine each trip costs both processes a wake-up
and a few system calls (perf: about a quarter of the server's CPU per transfer). Here the connection is taken in
autocommit mode and the transaction is driven by hand: ``BEGIN; SET LOCAL ...; EXECUTE prepare``
in one simple-protocol message, then the rules in Python, then ``EXECUTE write; COMMIT`` in
another. Both statements are the small-batch statements of store.py, prepared once per
connection with SQL PREPARE (their generic plans, as on the session path); their arguments are
the same literals the session path sends as parameters, quoted as SQL string literals.

Used only for plain requests (no hold to post or void), on a server with
standard_conforming_strings on (the default) and for text without NUL characters, so that
quoting is doubling single quotes and nothing else; anything else takes the ordinary path
(create_transfers' statements, in a Core transaction).
"""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from card_service.ledger import rules
from card_service.ledger.clock import now_ns
from card_service.ledger.results import Result
from card_service.ledger.rules import CMNED, DMNEC
from card_service.ledger.schemas import TransferRequest, TransferResult
from card_service.ledger.store import LIMITS, TRANSFER_COLUMNS, ConcurrentWrite
from card_service.ledger.store_postgres import (
    _LINE,
    _PREPARE_SMALL,
    _WRITE_SMALL,
    _WRITE_SMALL_NO_FAILED,
    PostgresStore,
    _array,
)

_PARAM = re.compile(r"%\((\w+)\)s(::\w+\[\])?")
_SCALARS = {"batch": "bigint", "ts": "bigint", "n": "bigint", "plans": "text"}


def _numbered(name: str, sql: str) -> tuple[str, list[str]]:
    """``PREPARE name (types) AS sql`` with psycopg's %(key)s turned into $n; the keys in order."""
    keys: list[str] = []
    types: list[str] = []

    def number(m: re.Match[str]) -> str:
        key, cast = m.group(1), m.group(2)
        if key not in keys:
            keys.append(key)
            types.append(cast[2:] if cast else _SCALARS[key])
        return f"${keys.index(key) + 1}{cast or ''}"

    body = _PARAM.sub(number, sql)
    return f"PREPARE {name} ({', '.join(types)}) AS {body}", keys


_PREPARE, _PREPARE_KEYS = _numbered("ledger_alone_prepare", _PREPARE_SMALL)
_WRITE, _WRITE_KEYS = _numbered("ledger_alone_write", _WRITE_SMALL)
_WRITE_OK, _WRITE_OK_KEYS = _numbered("ledger_alone_write_ok", _WRITE_SMALL_NO_FAILED)
_READY: weakref.WeakSet[Any] = weakref.WeakSet()  # connections holding the three statements

# One plain transfer, decided and written by one statement. Its accounts are locked in the
# order every other path takes them (accounts with limits first, then the others, each by id:
# see store_postgres._LOCKED and _WRITE_SMALL), so it cannot deadlock with a batch. Returns the
# transfer's timestamp, or no row (and writes nothing) when any of rules._plain_run's conditions
# fails: the id was used or failed before, an account is missing, currencies differ, or a limit
# would be passed. Prepared once per connection, as the two-trip path's statements are.
_ONCE = f"""PREPARE ledger_alone_once (uuid, bigint, bigint, bigint, text, text, bigint) AS
WITH acc AS MATERIALIZED (
  SELECT id, currency, flags, coalesce(floor_cents, 0) AS floor, debits_posted AS dp,
    credits_posted AS cp, debits_pending AS dpe, credits_pending AS cpe, timestamp_last
  FROM ledger_accounts WHERE id IN ($2, $3)
  ORDER BY flags & {LIMITS} = 0, id FOR UPDATE
), q AS (
  SELECT $1 AS id, $2 AS dr, $3 AS cr,
    $4 AS amount, $5 AS code, $6 AS ud, $7 AS now
), r AS MATERIALIZED (
  SELECT q.id, q.dr, q.cr, q.amount, NULL::uuid AS pending, q.code, q.ud, 0 AS flags,
    0 AS timeout, NULL::bigint AS expires,
    greatest(q.now, d.timestamp_last + 1, c.timestamp_last + 1) AS ts,
    d.cp - d.dp - q.amount AS drb, c.cp + q.amount - c.dp AS crb,
    nextval('ledger_batches_id_seq') AS batch
  FROM q JOIN acc AS d ON d.id = q.dr JOIN acc AS c ON c.id = q.cr
  WHERE d.currency = c.currency
    AND (d.flags & {DMNEC} = 0 OR d.dpe + d.dp + q.amount <= d.cp + d.floor)
    AND (c.flags & {CMNED} = 0 OR c.cpe + c.cp + q.amount <= c.dp + c.floor)
    AND NOT EXISTS (SELECT FROM ledger_transfers AS t WHERE t.id = q.id)
    AND NOT EXISTS (SELECT FROM ledger_failed_transfers AS f WHERE f.id = q.id)
), batch AS (
  INSERT INTO ledger_batches (id, timestamp, transfer_count, content_hash, seal_key)
  SELECT batch, ts, 1, sha256(convert_to({_LINE}, 'UTF8')), pg_current_xact_id()::text::bigint
  FROM r
), written AS (
  INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}, batch_id)
  SELECT id, dr, cr, amount, pending, code, ud, flags, timeout, expires, ts, drb, crb, batch
  FROM r
), accounts AS (
  UPDATE ledger_accounts AS a SET
    debits_posted = a.debits_posted + CASE WHEN a.id = r.dr THEN r.amount ELSE 0 END,
    credits_posted = a.credits_posted + CASE WHEN a.id = r.cr THEN r.amount ELSE 0 END,
    timestamp_last = r.ts
  FROM r WHERE a.id IN (r.dr, r.cr)
)
SELECT ts FROM r"""
_READY_ONCE: weakref.WeakSet[Any] = weakref.WeakSet()  # connections holding _ONCE


def usable(conn: Any, request: TransferRequest) -> bool:
    """Whether this request on this connection may take the two-trip path."""
    return (
        request.pending_id is None
        and _plain_text(request.code)
        and (request.user_data is None or _plain_text(request.user_data))
        and conn.info.parameter_status("standard_conforming_strings") == "on"
    )


def plain(request: TransferRequest) -> bool:
    """Whether the request passes rules._plain_run's checks that need no state (the rest are
    _ONCE's)."""
    amount = request.amount_cents
    return (
        not request.flags
        and isinstance(amount, int)
        and 0 < amount < 2**63
        and bool(request.code)
        and not request.timeout_s
        and request.id.int != 0
        and request.debit_account_id != request.credit_account_id
    )


def once(conn: Any, request: TransferRequest) -> TransferResult | None:
    """Record a plain request in one round trip, committed; None if _ONCE's conditions failed
    (nothing written: the two-trip path decides it). ``conn`` is in autocommit mode, usable()."""
    import psycopg

    cur = conn.cursor()
    if conn not in _READY_ONCE:
        cur.execute(_ONCE)
        _READY_ONCE.add(conn)
    values = (
        request.id,
        request.debit_account_id,
        request.credit_account_id,
        request.amount_cents,
        request.code,
        request.user_data,
        now_ns(),
    )
    try:
        cur.execute(f"EXECUTE ledger_alone_once({', '.join(map(_quote, values))})")
    except psycopg.errors.UniqueViolation as exc:  # the same id, written since our snapshot
        raise ConcurrentWrite(str(exc)) from exc
    row = cur.fetchone()
    return None if row is None else TransferResult(0, request.id, Result.OK, int(row[0]), False)


def _plain_text(value: object) -> bool:
    return isinstance(value, str) and "\x00" not in value


@contextmanager
def own_transaction(conn: Any) -> Iterator[Any]:
    """The connection in autocommit mode, for a transaction begun and ended by hand; rolled
    back if anything fails before its COMMIT, and back in its usual mode afterwards."""
    conn.autocommit = True
    try:
        yield conn
    except BaseException:
        if conn.info.transaction_status != 0:  # not idle: begun and not ended
            # On a broken connection this fails too: the caller throws it away (service.py).
            with suppress(Exception):
                conn.execute("ROLLBACK")
        raise
    finally:
        conn.autocommit = False


def transfer(store: PostgresStore, conn: Any, request: TransferRequest) -> TransferResult:
    """Decide and record one request; ``conn`` is in own_transaction()."""
    import psycopg

    cur = conn.cursor()
    if conn not in _READY:
        cur.execute(f"{_PREPARE}; {_WRITE}; {_WRITE_OK}")
        _READY.add(conn)
    accounts = {request.debit_account_id, request.credit_account_id}
    accounts.discard(0)
    args = {"ids": _array((request.id,)), "accounts": _array(sorted(accounts))}
    cur.execute(
        "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; "
        f"EXECUTE ledger_alone_prepare({_arguments(_PREPARE_KEYS, args)})"
    )
    cur.nextset()
    cur.nextset()
    state, batch_id = store.small_state(cur.fetchone(), "force_generic_plan")
    base = rules.first_timestamp(state, now_ns())
    out = rules.apply([request], state, base)
    if not (out.transfers or out.failed):
        cur.execute("COMMIT")
        return out.results[0]
    params = store.small_params(batch_id, base, out, state)
    name, keys = (
        ("ledger_alone_write", _WRITE_KEYS)
        if out.failed
        else ("ledger_alone_write_ok", _WRITE_OK_KEYS)
    )
    try:
        cur.execute(f"EXECUTE {name}({_arguments(keys, params)}); COMMIT")
    except psycopg.errors.UniqueViolation as exc:
        raise ConcurrentWrite(str(exc)) from exc
    return rules.shifted(out.results, int(cur.fetchone()[0]))[0]


def _arguments(keys: list[str], params: dict[str, Any]) -> str:
    return ", ".join(_quote(params[k]) for k in keys)


def _quote(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, uuid.UUID):
        return f"'{value}'"
    return "'" + str(value).replace("'", "''") + "'"
