"""Ledger inputs and outputs: slotted dataclasses and tuples, as a batch builds thousands."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from enum import IntFlag
from typing import Any, NamedTuple

from card_service.ledger.results import MalformedTransfer, Result

MAX_BATCH = 8190


class AccountFlags(IntFlag):
    NONE = 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 2


class TransferFlags(IntFlag):
    NONE = 0
    LINKED = 1
    PENDING = 2
    POST_PENDING = 4
    VOID_PENDING = 8


@dataclass(slots=True, frozen=True)
class AccountSpec:
    """An account to open; ``code`` is its unique, readable name (``purse:H000123``)."""

    code: str
    kind: str
    flags: AccountFlags = AccountFlags.NONE
    floor_cents: int | None = None
    currency: str = "EUR"
    user_data: str | None = None


@dataclass(slots=True, frozen=True)
class TransferRequest:
    """What a client asks for. For post/void, the accounts may be 0 and the amount None
    (meaning: those of the pending transfer, in full)."""

    id: uuid.UUID
    debit_account_id: int
    credit_account_id: int
    amount_cents: int | None
    code: str
    user_data: str | None = None
    pending_id: uuid.UUID | None = None
    flags: int = 0
    timeout_s: int = 0

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> TransferRequest:
        """Build from untrusted input (JSON); a malformed field is a MalformedTransfer."""
        try:
            pending = raw.get("pending_id")
            amount = raw.get("amount_cents")
            if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
                raise ValueError("amount_cents must be an integer number of cents")
            return cls(
                id=uuid.UUID(str(raw["id"])),
                debit_account_id=int(raw.get("debit_account_id") or 0),
                credit_account_id=int(raw.get("credit_account_id") or 0),
                amount_cents=amount,
                code=str(raw.get("code", "")),
                user_data=raw.get("user_data"),
                pending_id=uuid.UUID(str(pending)) if pending else None,
                flags=int(raw.get("flags", 0)),
                timeout_s=int(raw.get("timeout_s", 0)),
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise MalformedTransfer(f"malformed transfer: {exc}") from exc


def linked(requests: list[TransferRequest]) -> list[TransferRequest]:
    """The same transfers as one all-or-nothing chain: every one but the last is LINKED."""
    return [
        dataclasses.replace(r, flags=r.flags | TransferFlags.LINKED) if i < len(requests) - 1 else r
        for i, r in enumerate(requests)
    ]


class TransferResult(NamedTuple):
    position: int  # the request's place in the batch
    id: uuid.UUID
    result: Result
    timestamp: int | None = None
    # True when this id was already decided: the answer is the original one, nothing was written.
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.result is Result.OK


@dataclass(slots=True)
class AccountBalance:
    id: int
    code: str
    kind: str
    currency: str
    flags: int
    floor_cents: int | None
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def balance_cents(self) -> int:
        """Posted balance of a credit-normal account (a purse): credits less debits."""
        return self.credits_posted - self.debits_posted

    @property
    def available_cents(self) -> int:
        """What may still be debited now: holds count against it, the floor adds to it."""
        return self.balance_cents - self.debits_pending + (self.floor_cents or 0)


@dataclass(slots=True, frozen=True)
class HistoryEntry:
    """One entry of an account's history: a transfer seen from that account."""

    transfer_id: uuid.UUID
    timestamp: int
    is_debit: bool
    posted_delta: int
    pending_delta: int
    balance_after_cents: int
    code: str
    user_data: str | None
    other_account_id: int
