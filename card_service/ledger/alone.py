"""A single transfer in a PostgreSQL transaction of its own, in two round trips.

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
from card_service.ledger.schemas import TransferRequest, TransferResult
from card_service.ledger.store import (
    _PREPARE_SMALL,
    _WRITE_SMALL,
    _WRITE_SMALL_NO_FAILED,
    ConcurrentWrite,
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


def usable(conn: Any, request: TransferRequest) -> bool:
    """Whether this request on this connection may take the two-trip path."""
    return (
        request.pending_id is None
        and _plain_text(request.code)
        and (request.user_data is None or _plain_text(request.user_data))
        and conn.info.parameter_status("standard_conforming_strings") == "on"
    )


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
    if isinstance(value, int):
        return str(value)
    if isinstance(value, uuid.UUID):
        return f"'{value}'"
    return "'" + str(value).replace("'", "''") + "'"
