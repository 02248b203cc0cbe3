"""Taps into ledger transfers: what the purse pays and what a concession budget pays, both to
the service's revenue, linked so that a tap is charged whole or not at all.

Transfer ids are uuid5 of the terminal id, sequence and leg: a batch uploaded twice (or settled
again after a crash) writes each transfer once. Account codes are shared with the charging code:
``revenue:<service>`` and ``concession:<category>`` (the city's subsidy: it may go negative).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from card_service.ledger.results import AccountCodeTaken, Result, UnknownAccount
from card_service.ledger.schemas import MAX_BATCH, TransferFlags, TransferRequest
from card_service.ledger.service import create_transfers, find_account, open_account
from card_service.terminals.wire import Tap

TAP_NAMESPACE = uuid.UUID("6f1d2c1e-8f0b-5d8e-9a57-2f3c7b1e0a61")
FARE_CODE = "fare"
CONCESSION_CODE = "fare_concession"
CHUNK = MAX_BATCH - 2  # a tap's two legs never straddle two calls


_NAMESPACE = TAP_NAMESPACE.bytes
_VERSION_5 = (5 << 76) | (0x8000 << 48)  # version 5, RFC 4122 variant
_KEEP = ~((0xF000 << 64) | (0xC000 << 48))


def transfer_id(terminal_id: int, seq: int, leg: str) -> uuid.UUID:
    """``uuid.uuid5(TAP_NAMESPACE, f"{terminal_id}:{seq}:{leg}")``, computed without its
    intermediate UUID objects (tests/settlement/test_postings.py checks they are equal)."""
    name = f"{terminal_id}:{seq}:{leg}".encode()
    digest = hashlib.sha1(_NAMESPACE + name, usedforsecurity=False).digest()  # as uuid5
    # What UUID(int=...) ends with, without its argument checks (the value is 128 bits by
    # construction): a third of this function's time, thousands of times a batch.
    out = _new_object(uuid.UUID)
    _set(out, "int", (int.from_bytes(digest[:16], "big") & _KEEP) | _VERSION_5)
    _set(out, "is_safe", _UNKNOWN)
    return out


_new_object = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def revenue_code(service: str) -> str:
    return f"revenue:{service}"


def concession_code(category: str) -> str:
    return f"concession:{category}"


def account_ids(session: Session, codes: Iterable[str], kinds: dict[str, str]) -> dict[str, int]:
    """Ledger ids of these accounts, opening those that do not exist yet (no limits)."""
    out = {}
    for code in set(codes):
        try:
            out[code] = find_account(session, code).id
        except UnknownAccount:
            try:
                out[code] = open_account(session, code=code, kind=kinds[code.split(":")[0]]).id
            except AccountCodeTaken:  # opened by a concurrent settlement in the meantime
                out[code] = find_account(session, code).id
    return out


KINDS = {"revenue": "service_revenue", "concession": "concession_subsidy"}


@dataclass(frozen=True, slots=True)
class Charge:
    """One tap to charge: who pays how much."""

    tap: Tap
    purse_id: int


def post(
    session: Session, terminal_id: int, service: str, charges: Sequence[Charge]
) -> list[Result]:
    """Write the transfers of these taps; a result per charge (OK, or why it was not charged)."""
    codes = [revenue_code(service)]
    codes += [
        concession_code(c.tap.concession_category or "") for c in charges if c.tap.concession_cents
    ]
    ids = account_ids(session, codes, KINDS)
    revenue = ids[revenue_code(service)]
    requests: list[TransferRequest] = []
    owner: list[int] = []  # for each request, the charge it belongs to
    for n, charge in enumerate(charges):
        tap = charge.tap
        note = f"tap:{terminal_id}:{tap.seq}"
        if tap.holder_cents and not tap.concession_cents:  # the common case: one leg
            tid = transfer_id(terminal_id, tap.seq, "purse")
            requests.append(
                TransferRequest(tid, charge.purse_id, revenue, tap.holder_cents, FARE_CODE, note)
            )
            owner.append(n)
            continue
        legs = []
        if tap.holder_cents:
            legs.append(
                (
                    transfer_id(terminal_id, tap.seq, "purse"),
                    charge.purse_id,
                    tap.holder_cents,
                    FARE_CODE,
                )
            )
        if tap.concession_cents:
            budget = ids[concession_code(tap.concession_category or "")]
            legs.append(
                (
                    transfer_id(terminal_id, tap.seq, "concession"),
                    budget,
                    tap.concession_cents,
                    CONCESSION_CODE,
                )
            )
        for i, (tid, debit, amount, code) in enumerate(legs):
            linked = TransferFlags.LINKED if i < len(legs) - 1 else TransferFlags.NONE
            requests.append(
                TransferRequest(tid, debit, revenue, amount, code, note, flags=int(linked))
            )
            owner.append(n)
    results = [Result.OK] * len(charges)
    start = 0
    while start < len(requests):
        end = min(start + CHUNK, len(requests))
        while end < len(requests) and owner[end] == owner[end - 1]:
            end -= 1  # keep a linked chain in one call
        for r in create_transfers(session, requests[start:end]):
            n = owner[start + r.position]
            if not r.ok and results[n] is Result.OK:
                results[n] = r.result
            elif not r.ok and results[n] is Result.LINKED_EVENT_FAILED:
                results[n] = r.result  # the leg that failed, not its linked partner
        start = end
    return results
