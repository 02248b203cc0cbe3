"""The ledger's operations. Other domains move money only through these functions.

Services flush, never commit: the caller's transaction decides (see card_service.db.transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from card_service.ledger import alone, rules
from card_service.ledger import history as history_index
from card_service.ledger.clock import now_ns
from card_service.ledger.models import Account
from card_service.ledger.results import (
    AccountCodeTaken,
    BatchTooLarge,
    TransferRejected,
    UnknownAccount,
)
from card_service.ledger.schemas import (
    MAX_BATCH,
    AccountBalance,
    AccountFlags,
    AccountSpec,
    HistoryEntry,
    TransferRequest,
    TransferResult,
)
from card_service.ledger.store import Store, store_for, store_for_dialect
from card_service.ledger.store_postgres import PostgresStore


def open_account(
    session: Session,
    *,
    code: str,
    kind: str,
    flags: AccountFlags = AccountFlags.NONE,
    floor_cents: int | None = None,
    currency: str = "EUR",
    user_data: str | None = None,
) -> Account:
    """Create an account; ``code`` is its unique, readable name (``purse:H000123``)."""
    if floor_cents is not None and floor_cents < 0:
        raise ValueError("floor_cents is how far below zero the balance may go: 0 or more")
    account = Account(
        code=code,
        kind=kind,
        currency=currency,
        flags=int(flags),
        floor_cents=floor_cents,
        debits_posted=0,
        credits_posted=0,
        debits_pending=0,
        credits_pending=0,
        timestamp_last=0,
        user_data=user_data,
        created_at=now_ns(),
    )
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
    except IntegrityError as exc:
        raise AccountCodeTaken(f"an account with code {code!r} exists already") from exc
    return account


def open_accounts(session: Session, specs: Sequence[AccountSpec]) -> list[int]:
    """Open many accounts in one statement (a city's purses at seeding); their ids, in order.

    All or nothing: one taken code refuses the whole call.
    """
    if any(s.floor_cents is not None and s.floor_cents < 0 for s in specs):
        raise ValueError("floor_cents is how far below zero the balance may go: 0 or more")
    if not specs:
        return []
    now = now_ns()
    rows = [
        {
            "code": s.code, "kind": s.kind, "currency": s.currency, "flags": int(s.flags),
            "floor_cents": s.floor_cents, "debits_posted": 0, "credits_posted": 0,
            "debits_pending": 0, "credits_pending": 0, "timestamp_last": 0,
            "user_data": s.user_data, "created_at": now,
        }
        for s in specs
    ]  # fmt: skip
    statement = insert(Account).returning(Account.id, sort_by_parameter_order=True)
    try:
        with session.begin_nested():
            return [int(i) for i in session.execute(statement, rows).scalars()]
    except IntegrityError as exc:
        raise AccountCodeTaken("an account with one of these codes exists already") from exc


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise UnknownAccount(f"no ledger account {account_id}")
    return account


def find_account(session: Session, code: str) -> Account:
    account = session.scalars(select(Account).where(Account.code == code)).one_or_none()
    if account is None:
        raise UnknownAccount(f"no ledger account with code {code!r}")
    return account


def find_account_ids(session: Session, codes: Sequence[str]) -> dict[str, int]:
    """The ids of those of these accounts that exist, by code: one indexed read, no ORM objects."""
    if not codes:
        return {}
    rows = session.connection().execute(
        select(Account.code, Account.id).where(Account.code.in_(list(codes)))
    )
    return {str(code): int(found) for code, found in rows}


def balance(session: Session, account_id: int) -> AccountBalance:
    a = get_account(session, account_id)
    session.refresh(a)
    return AccountBalance(
        a.id,
        a.code,
        a.kind,
        a.currency,
        a.flags,
        a.floor_cents,
        a.debits_posted,
        a.credits_posted,
        a.debits_pending,
        a.credits_pending,
    )


def create_transfers(
    session: Session, requests: Sequence[TransferRequest], *, _expiring: bool = False
) -> list[TransferResult]:
    """Decide and record a batch in the caller's transaction: every involved account is locked
    once (accounts with limits first, in id order, then those without, in id order; on PostgreSQL
    a small batch locks the latter only in its write statement); each account's balance is
    written once; a result per request.

    Raises ConcurrentWrite when another transaction wrote one of these ids at the same moment:
    the transaction is then lost and the whole call may be retried (ids make that safe).
    """
    if not requests:
        return []
    if len(requests) > MAX_BATCH:
        raise BatchTooLarge(f"at most {MAX_BATCH} transfers per call, got {len(requests)}")
    store = store_for(session)
    return _create(store, store.raw(session), requests, _expiring)


def transfer_alone(engine: Engine, request: TransferRequest) -> TransferResult:
    """One transfer in a database transaction of its own, committed before this returns: for a
    caller that has nothing else to write with it (a single fare, a single top-up).

    The same rules, results, errors and chain as ``create_transfers``, on a pooled connection
    without an ORM session, which costs a single transfer about as much client CPU as the
    ledger's own work. A failed transfer is returned (and kept, when its failure is
    state-dependent), not raised. Raises ConcurrentWrite as ``create_transfers`` does; nothing
    is committed then, and the call may be retried.
    """
    store = store_for_dialect(engine.dialect.name)
    if isinstance(store, PostgresStore):
        pooled = engine.raw_connection()
        conn: Any = pooled.driver_connection
        try:
            if alone.usable(conn, request):
                with alone.own_transaction(conn):
                    done = alone.once(conn, request) if alone.plain(request) else None
                    return done or alone.transfer(store, conn, request)
        except BaseException:
            # Rolled back and idle (a ConcurrentWrite, a refused value): the pool keeps it.
            # Anything else is not given to the next caller.
            if conn.closed or conn.autocommit or conn.info.transaction_status != 0:
                pooled.invalidate()
            raise
        finally:
            pooled.close()
    with engine.begin() as connection:
        raw = connection.connection.driver_connection
        return _create(store, raw, [request], False)[0]


def _create(
    store: Store, conn: Any, requests: Sequence[TransferRequest], expiring: bool
) -> list[TransferResult]:
    return store.create(conn, list(requests), expiring)


def create_transfer(session: Session, request: TransferRequest) -> TransferResult:
    """One transfer; a failure raises TransferRejected carrying the named result."""
    result = create_transfers(session, [request])[0]
    if not result.ok:
        raise TransferRejected(result.result, request.id)
    return result


def expire_holds(session: Session, now: int | None = None, limit: int = 5000) -> int:
    """Void every hold whose timeout has passed and is neither posted nor voided; returns how many.

    The void's id is derived from the hold's, so two sweepers racing write it once.
    """
    now = now or now_ns()
    rows = session.execute(
        text(
            "SELECT p.id FROM ledger_transfers p WHERE p.expires_at IS NOT NULL "
            "AND p.expires_at <= :now AND NOT EXISTS "
            "(SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id) LIMIT :limit"
        ),
        {"now": now, "limit": limit},
    ).scalars()
    store = store_for(session)
    voids = []
    for raw in rows:
        hold_id = store.to_id(raw)
        voids.append(
            TransferRequest(
                id=uuid.uuid5(hold_id, "expired"),
                debit_account_id=0,
                credit_account_id=0,
                amount_cents=None,
                code=rules.EXPIRY_CODE,
                pending_id=hold_id,
                flags=rules.VOID,
            )
        )
    if not voids:
        return 0
    results = create_transfers(session, voids, _expiring=True)
    return sum(1 for r in results if r.ok and not r.replayed)


def index_history(session: Session) -> int:
    """SQLite: index the history of every transfer written since the last time (see
    ledger/history.py); returns how many. PostgreSQL indexes it as it writes: 0."""
    store = store_for(session)
    if isinstance(store, PostgresStore):
        return 0
    return history_index.catch_up(store.raw(session))


_HISTORY = (
    "SELECT transfer_id, timestamp, is_debit, posted_delta, pending_delta, balance_after_cents, "
    "code, user_data, other_account_id FROM ledger_entries "
    "WHERE account_id = :a AND timestamp >= :lo AND timestamp < :hi "
    "ORDER BY timestamp DESC LIMIT :n"
)


def history(
    session: Session,
    account_id: int,
    *,
    limit: int = 50,
    from_ts: int | None = None,
    to_ts: int | None = None,
) -> list[HistoryEntry]:
    """An account's entries, newest first, optionally within [from_ts, to_ts) (ns)."""
    store = store_for(session)
    rows = session.execute(
        text(_HISTORY if isinstance(store, PostgresStore) else history_index.ENTRIES),
        {"a": account_id, "lo": from_ts or 0, "hi": to_ts or 2**63 - 1, "n": limit},
    )
    return [
        HistoryEntry(
            store.to_id(r[0]),
            int(r[1]),
            bool(r[2]),
            int(r[3]),
            int(r[4]),
            int(r[5]),
            r[6],
            r[7],
            int(r[8]),
        )
        for r in rows
    ]
