"""The ledger's rules, applied to a batch in memory, with no database in sight.

``BatchState`` holds the locked accounts and every transfer the batch may refer to; ``apply``
walks the requests in order, chain by chain, and returns a result per request plus the rows to
write. A linked chain that fails is undone in memory, so the database only ever sees rows of
transfers that succeeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from card_service.ledger.results import STICKY_FAILURES, Result
from card_service.ledger.schemas import AccountFlags, TransferFlags, TransferRequest, TransferResult

LINKED = int(TransferFlags.LINKED)
PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING)
VOID = int(TransferFlags.VOID_PENDING)
KNOWN_FLAGS = LINKED | PENDING | POST | VOID
DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
EXPIRY_CODE = "hold_expired"
NS = 1_000_000_000
OK = Result.OK
# Rows handed to apply()'s sink at a time: small enough that the database writes the first while
# the rest are decided, large enough that a call costs nothing per row.
SINK_EVERY = 512
_new = tuple.__new__  # a NamedTuple from a full tuple, without its generated __new__'s call


class StoredTransfer(NamedTuple):
    """A transfer as the ledger keeps it (column order of ledger_transfers, less batch_id).

    It is also both entries: the two accounts' posted balances after it.
    """

    id: uuid.UUID
    debit_account_id: int
    credit_account_id: int
    amount_cents: int | None
    pending_id: uuid.UUID | None
    code: str
    user_data: str | None
    flags: int
    timeout_s: int
    expires_at: int | None
    timestamp: int
    debit_balance_after: int = 0
    credit_balance_after: int = 0


class AccountState:
    __slots__ = ("cp", "cpe", "currency", "dp", "dpe", "flags", "floor", "id", "ts_last")

    def __init__(
        self,
        id: int,
        currency: str,
        flags: int,
        floor: int | None,
        dp: int,
        cp: int,
        dpe: int,
        cpe: int,
        ts_last: int,
    ) -> None:
        self.id = id
        self.currency = currency
        self.flags = flags
        self.floor = floor or 0
        self.dp, self.cp, self.dpe, self.cpe, self.ts_last = dp, cp, dpe, cpe, ts_last


@dataclass
class BatchState:
    accounts: dict[int, AccountState]
    # Transfers by id: those the batch names (idempotency) and the holds it posts or voids.
    known: dict[uuid.UUID, StoredTransfer]
    failed: dict[uuid.UUID, tuple[StoredTransfer, Result]]
    # pending id -> "posted" | "voided" | "expired"
    resolutions: dict[uuid.UUID, str]
    # Accounts read without their lock (PostgreSQL, accounts without limits): their balances here
    # start at 0, so the batch's entries carry balances relative to the account's balance before
    # the batch, which the write adds once it holds the lock (see
    # store_postgres.PostgresStore.write).
    relative: frozenset[int] = frozenset()
    # The batch's ids as the database stores them, in request order (SQLite: converted once).
    id_keys: list[Any] = field(default_factory=list)
    # True when no id appears twice in the batch and no request posts or voids a hold (then a
    # plain transfer needs no entry in known: nothing later in the batch can look it up).
    unique_ids: bool = False
    # PostgreSQL, small batches: the caller's plan_cache_mode, put back by the write (see store).
    restore: str | None = None


@dataclass
class BatchOutput:
    results: list[TransferResult] = field(default_factory=list)
    transfers: list[StoredTransfer] = field(default_factory=list)
    failed: list[tuple[StoredTransfer, Result]] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)
    # False while every transfer came from the fast path: plain, no hold, no timeout, flags 0.
    general: bool = False


class _Undo:
    """What a chain changed, so a failing chain leaves no trace."""

    __slots__ = ("accounts", "known", "mark", "resolutions")

    def __init__(self, out: BatchOutput) -> None:
        self.mark = len(out.transfers)
        self.accounts: dict[int, tuple[int, int, int, int, int]] = {}
        self.known: list[uuid.UUID] = []
        self.resolutions: list[uuid.UUID] = []

    def touch(self, acc: AccountState) -> None:
        if acc.id not in self.accounts:
            self.accounts[acc.id] = (acc.dp, acc.cp, acc.dpe, acc.cpe, acc.ts_last)

    def rollback(self, state: BatchState, out: BatchOutput) -> None:
        for acc_id, (dp, cp, dpe, cpe, ts) in self.accounts.items():
            acc = state.accounts[acc_id]
            acc.dp, acc.cp, acc.dpe, acc.cpe, acc.ts_last = dp, cp, dpe, cpe, ts
        del out.transfers[self.mark :]
        for key in self.known:
            state.known.pop(key, None)
        for key in self.resolutions:
            state.resolutions.pop(key, None)


def shifted(results: list[TransferResult], shift: int) -> list[TransferResult]:
    """The results of a batch whose write moved its timestamps ``shift`` ns later (after an
    entry of an account it locked last: see store_postgres.PostgresStore.write)."""
    if not shift:
        return results
    return [
        r._replace(timestamp=r.timestamp + shift)
        if r.timestamp is not None and not r.replayed
        else r
        for r in results
    ]


def first_timestamp(state: BatchState, now_ns: int) -> int:
    """A batch's first timestamp: after now and after every entry of every account it touches."""
    newest = max((a.ts_last for a in state.accounts.values()), default=0)
    return max(now_ns, newest + 1)


def apply(
    requests: list[TransferRequest],
    state: BatchState,
    base_ts: int,
    *,
    expiring: bool = False,
    sink: Callable[[list[StoredTransfer]], None] | None = None,
    every: int = SINK_EVERY,
) -> BatchOutput:
    """Decide every request in order; request i gets timestamp ``base_ts + i``.

    ``sink``, if given, is handed the rows to write as soon as they are final: after about every
    ``every`` requests, between two chains (only an open chain's rows can still be undone), and
    once at the end, so that a store can write them while the rest of the batch is decided.
    """
    out = BatchOutput()
    n = len(requests)
    start = sent = 0
    while start < n:
        stop = min(n, start + every) if sink is not None else n
        while start < stop:
            start = _plain_run(requests, start, stop, base_ts, state, out)
            if start == stop:
                break
            first = requests[start]
            if not first.flags & LINKED:  # a lone transfer: it changes nothing unless it succeeds
                res = _evaluate(first, base_ts + start, start, state, out, None, expiring)
                if res.result is not Result.OK:
                    _remember_failure(first, res, base_ts + start, state, out)
                out.results.append(res)
                start += 1
                continue
            start = _chain(requests, start, base_ts, state, out, expiring)
        if sink is not None and sent < len(out.transfers):
            sink(out.transfers[sent:])
            sent = len(out.transfers)
    return out


def _chain(
    requests: list[TransferRequest],
    start: int,
    base_ts: int,
    state: BatchState,
    out: BatchOutput,
    expiring: bool,
) -> int:
    """Decide the linked chain that begins at ``start``, all or nothing; returns where the next
    request begins."""
    n = len(requests)
    end = start
    while end < n - 1 and requests[end].flags & LINKED:
        end += 1
    chain = range(start, end + 1)
    if requests[end].flags & LINKED:  # the batch ended inside a chain
        for i in chain:
            code = Result.LINKED_EVENT_CHAIN_OPEN if i == end else Result.LINKED_EVENT_FAILED
            out.results.append(TransferResult(i, requests[i].id, code))
        return n
    undo = _Undo(out)
    results: list[TransferResult] = []
    failed_at = -1
    for i in chain:
        res = _evaluate(requests[i], base_ts + i, i, state, out, undo, expiring)
        results.append(res)
        if res.result is not Result.OK:
            failed_at = i
            break
    if failed_at >= 0:
        undo.rollback(state, out)
        for i in chain:
            if i == failed_at:
                continue
            prior = results[i - start] if i < failed_at else None
            if prior is not None and prior.replayed:
                continue
            replacement = TransferResult(i, requests[i].id, Result.LINKED_EVENT_FAILED)
            if i < failed_at:
                results[i - start] = replacement
            else:
                results.append(replacement)
    if failed_at >= 0:
        failure = results[failed_at - start]
        _remember_failure(requests[failed_at], failure, base_ts + failed_at, state, out)
    out.results.extend(results)
    return end + 1


def _plain_run(
    requests: list[TransferRequest],
    start: int,
    stop: int,
    base_ts: int,
    state: BatchState,
    out: BatchOutput,
) -> int:
    """The settlement fast path: new, plain transfers that pass every check are recorded here,
    one after another from ``start``; returns where the first other request is (or ``stop``).

    Anything else (a replay, a hold, a flag, a failure of any kind) is left untouched for the
    general path in ``_decide``, which names the result. Fares are nearly all of this kind, so
    everything the loop needs is looked up once per run rather than once per transfer.
    """
    accounts = state.accounts
    known, failed = state.known, state.failed
    # Without a repeated id in the batch, no later request can replay a plain transfer: it need
    # not be remembered by id (holds are, by the general path, as posts and voids look them up).
    remember = not state.unique_ids
    add_transfer, add_result, touch = out.transfers.append, out.results.append, out.touched.add
    get = accounts.get
    index = start
    while index < stop:
        req = requests[index]
        amount = req.amount_cents
        dr = get(req.debit_account_id)
        cr = get(req.credit_account_id)
        rid = req.id
        if (
            req.flags
            or dr is None
            or cr is None
            or dr is cr
            or amount is None
            or amount <= 0
            or not req.code
            or req.timeout_s
            or req.pending_id is not None
            or not rid.int
            or dr.currency != cr.currency
            or (known and rid in known)
            or (failed and rid in failed)
            or (dr.flags & DMNEC and dr.dpe + dr.dp + amount > dr.cp + dr.floor)
            or (cr.flags & CMNED and cr.cpe + cr.cp + amount > cr.dp + cr.floor)
        ):
            return index
        ts = base_ts + index
        dr.dp += amount
        cr.cp += amount
        dr.ts_last = cr.ts_last = ts
        stored = _new(StoredTransfer, (
            rid, dr.id, cr.id, amount, None, req.code, req.user_data, 0, 0, None, ts,
            dr.cp - dr.dp, cr.cp - cr.dp,
        ))  # fmt: skip
        add_transfer(stored)
        touch(dr.id)
        touch(cr.id)
        if remember:
            known[rid] = stored
        add_result(_new(TransferResult, (index, rid, OK, ts, False)))
        index += 1
    return index


def _stored(
    req: TransferRequest,
    dr: AccountState,
    cr: AccountState,
    amount: int,
    pending_id: uuid.UUID | None,
    expires: int | None,
    ts: int,
) -> StoredTransfer:
    """The row for a transfer just applied to ``dr`` and ``cr`` (so their balances are after it)."""
    timeout = 0 if pending_id is not None else req.timeout_s
    return _new(StoredTransfer, (
        req.id, dr.id, cr.id, amount, pending_id, req.code, req.user_data, req.flags, timeout,
        expires, ts, dr.cp - dr.dp, cr.cp - cr.dp,
    ))  # fmt: skip


def _remember_failure(
    req: TransferRequest, res: TransferResult, ts: int, state: BatchState, out: BatchOutput
) -> None:
    """Keep a state-dependent failure, so a retry of the same id cannot turn into a success."""
    if res.replayed or res.result not in STICKY_FAILURES:
        return
    stored = _as_stored(req, None, ts)
    out.failed.append((stored, res.result))
    state.failed[req.id] = (stored, res.result)


def _evaluate(
    req: TransferRequest,
    ts: int,
    index: int,
    state: BatchState,
    out: BatchOutput,
    undo: _Undo | None,
    expiring: bool,
) -> TransferResult:
    code = _decide(req, ts, state, out, undo, expiring)
    if isinstance(code, TransferResult):
        return TransferResult(index, req.id, code.result, code.timestamp, True)
    return TransferResult(index, req.id, code, ts if code is Result.OK else None)


def _decide(
    req: TransferRequest,
    ts: int,
    state: BatchState,
    out: BatchOutput,
    undo: _Undo | None,
    expiring: bool,
) -> Result | TransferResult:
    if req.id.int == 0:
        return Result.ID_MUST_NOT_BE_ZERO
    known = state.known.get(req.id)
    if known is not None:
        diff = _difference(req, known)
        return diff or TransferResult(0, req.id, Result.OK, known.timestamp, True)
    failed = state.failed.get(req.id)
    if failed is not None:
        diff = _difference(req, failed[0])
        return diff or TransferResult(0, req.id, failed[1], None, True)
    flags = req.flags
    if flags & ~KNOWN_FLAGS:
        return Result.RESERVED_FLAG
    kind = flags & (PENDING | POST | VOID)
    if kind & (kind - 1):
        return Result.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if not req.code:
        return Result.CODE_MUST_NOT_BE_EMPTY
    if req.timeout_s < 0:
        return Result.TIMEOUT_MUST_NOT_BE_NEGATIVE
    if req.timeout_s and not kind & PENDING:
        return Result.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if kind & (POST | VOID):
        return _resolve(req, ts, kind, state, out, undo, expiring)
    if req.pending_id is not None:
        return Result.PENDING_ID_MUST_BE_EMPTY
    amount = req.amount_cents
    if amount is None or amount <= 0:
        return Result.AMOUNT_MUST_BE_POSITIVE
    if req.debit_account_id == req.credit_account_id:
        return Result.ACCOUNTS_MUST_BE_DIFFERENT
    dr = state.accounts.get(req.debit_account_id)
    cr = state.accounts.get(req.credit_account_id)
    if dr is None or cr is None:
        return Result.ACCOUNT_NOT_FOUND
    if dr.currency != cr.currency:
        return Result.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY
    if dr.flags & DMNEC and dr.dpe + dr.dp + amount > dr.cp + dr.floor:
        return Result.EXCEEDS_CREDITS
    if cr.flags & CMNED and cr.cpe + cr.cp + amount > cr.dp + cr.floor:
        return Result.EXCEEDS_DEBITS
    if undo is not None:
        undo.touch(dr)
        undo.touch(cr)
    if kind:
        dr.dpe += amount
        cr.cpe += amount
        expires = ts + req.timeout_s * NS if req.timeout_s else None
    else:
        dr.dp += amount
        cr.cp += amount
        expires = None
    _record(_stored(req, dr, cr, amount, None, expires, ts), dr, cr, state, out, undo)
    return Result.OK


def _resolve(
    req: TransferRequest,
    ts: int,
    kind: int,
    state: BatchState,
    out: BatchOutput,
    undo: _Undo | None,
    expiring: bool,
) -> Result:
    pid = req.pending_id
    if pid is None:
        return Result.PENDING_ID_REQUIRED
    if pid == req.id:
        return Result.PENDING_ID_MUST_BE_DIFFERENT
    hold = state.known.get(pid)
    if hold is None:
        return Result.PENDING_TRANSFER_NOT_FOUND
    if not hold.flags & PENDING:
        return Result.PENDING_TRANSFER_NOT_PENDING
    if req.debit_account_id and req.debit_account_id != hold.debit_account_id:
        return Result.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
    if req.credit_account_id and req.credit_account_id != hold.credit_account_id:
        return Result.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
    done = state.resolutions.get(pid)
    if done == "posted":
        return Result.PENDING_TRANSFER_ALREADY_POSTED
    if done == "voided":
        return Result.PENDING_TRANSFER_ALREADY_VOIDED
    if done == "expired" or (
        not expiring and hold.expires_at is not None and ts >= hold.expires_at
    ):
        return Result.PENDING_TRANSFER_EXPIRED
    held = hold.amount_cents or 0
    amount = req.amount_cents
    if kind & POST:
        amount = held if amount is None else amount
        if amount <= 0:
            return Result.AMOUNT_MUST_BE_POSITIVE
        if amount > held:
            return Result.EXCEEDS_PENDING_TRANSFER_AMOUNT
    elif amount is not None and amount != held:
        return Result.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
    else:
        amount = held
    dr = state.accounts[hold.debit_account_id]
    cr = state.accounts[hold.credit_account_id]
    if undo is not None:
        undo.touch(dr)
        undo.touch(cr)
    dr.dpe -= held
    cr.cpe -= held
    posted = amount if kind & POST else 0
    dr.dp += posted
    cr.cp += posted
    _record(_stored(req, dr, cr, amount, pid, None, ts), dr, cr, state, out, undo)
    state.resolutions[pid] = "posted" if kind & POST else ("expired" if expiring else "voided")
    if undo is not None:
        undo.resolutions.append(pid)
    return Result.OK


def _record(
    stored: StoredTransfer,
    dr: AccountState,
    cr: AccountState,
    state: BatchState,
    out: BatchOutput,
    undo: _Undo | None,
) -> None:
    dr.ts_last = cr.ts_last = stored.timestamp
    out.general = True
    out.transfers.append(stored)
    out.touched.add(dr.id)
    out.touched.add(cr.id)
    state.known[stored.id] = stored
    if undo is not None:
        undo.known.append(stored.id)


def _difference(req: TransferRequest, stored: StoredTransfer) -> Result | None:
    """Why ``req`` is not the transfer already stored under its id (None: it is the same)."""
    resolving = req.flags & (POST | VOID)
    if req.flags != stored.flags:
        return Result.EXISTS_WITH_DIFFERENT_FLAGS
    if req.debit_account_id != stored.debit_account_id and not (
        resolving and req.debit_account_id == 0
    ):
        return Result.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
    if req.credit_account_id != stored.credit_account_id and not (
        resolving and req.credit_account_id == 0
    ):
        return Result.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
    if req.amount_cents != stored.amount_cents and not (resolving and req.amount_cents is None):
        return Result.EXISTS_WITH_DIFFERENT_AMOUNT
    if req.pending_id != stored.pending_id:
        return Result.EXISTS_WITH_DIFFERENT_PENDING_ID
    if req.code != stored.code:
        return Result.EXISTS_WITH_DIFFERENT_CODE
    if req.user_data != stored.user_data:
        return Result.EXISTS_WITH_DIFFERENT_USER_DATA
    if req.timeout_s != stored.timeout_s:
        return Result.EXISTS_WITH_DIFFERENT_TIMEOUT
    return None


def _as_stored(req: TransferRequest, expires: int | None, ts: int) -> StoredTransfer:
    return StoredTransfer(
        req.id,
        req.debit_account_id,
        req.credit_account_id,
        req.amount_cents,
        req.pending_id,
        req.code,
        req.user_data,
        req.flags,
        req.timeout_s,
        expires,
        ts,
    )
