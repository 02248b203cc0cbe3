"""The ledger accounts payments moves money between, and the transfer ids it derives.

- ``stripe_clearing``: what Stripe holds for the city. A top-up debits it and credits the purse;
  a refund or a dispute credits it. Its entries carry the Stripe object (``ch_``, ``re_``,
  ``dp_``) in ``user_data``: reconciliation matches them with Stripe's balance transactions.
- ``refunds``: refunds asked for and not yet confirmed by Stripe (purse -> refunds -> clearing,
  or back to the purse when Stripe refuses).
- ``kiosk_cash:<kiosk>``: the cash in a kiosk; ``cash_banked`` and ``cash_differences`` receive
  it when the kiosk's day is closed.
- ``purse_debt:<holder>``: what a holder owes after a chargeback larger than the purse. Purses may
  not go below their floor, so the part a purse cannot pay is a debit here; the holder's balance
  is purse + debt, below zero while the debt is open.

Every transfer id is a UUIDv5 of what caused it (a PaymentIntent, a refund, a request id), so a
retried or replayed cause writes the same transfer, which the ledger then answers as a replay.
"""

from __future__ import annotations

import uuid
import weakref

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from card_service.cards.debt import debt_code
from card_service.ledger import service as ledger
from card_service.ledger.results import AccountCodeTaken

NAMESPACE = uuid.UUID("5d8b7b4e-3f0a-5c8e-9b1d-7a6e2c4f9a31")

STRIPE_CLEARING = "stripe_clearing"
REFUNDS = "refunds"
CASH_BANKED = "cash_banked"
CASH_DIFFERENCES = "cash_differences"

# Ledger transfer codes (at most 32 characters).
TOPUP_ONLINE = "topup_online"
TOPUP_AUTO = "topup_auto"
TOPUP_CASH = "topup_cash"
REFUND_REQUESTED = "refund_requested"
REFUND_PAID = "refund_paid"
REFUND_RETURNED = "refund_returned"
REFUND_STRIPE = "refund_stripe"
REFUND_FAILED = "refund_failed"
DISPUTE = "dispute"
DISPUTE_DEBT = "dispute_debt"
DISPUTE_WON = "dispute_won"
DEBT_SETTLED = "debt_settled"
CASH_BANKED_CODE = "cash_banked"
CASH_SHORT = "cash_short"
CASH_OVER = "cash_over"


def transfer_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts))


def kiosk_cash(kiosk_id: str) -> str:
    return f"kiosk_cash:{kiosk_id}"


def purse_debt(pseudonym: str) -> str:
    return debt_code(pseudonym)


# Account ids by database, remembered once the transaction that saw them has committed (an
# account opened in a transaction that rolls back must not be remembered). Accounts are never
# deleted, so a remembered id stays right.
_known: weakref.WeakKeyDictionary[Engine, dict[str, int]] = weakref.WeakKeyDictionary()
_PENDING = "payments.accounts"


@event.listens_for(Session, "after_commit")
def _remember(session: Session) -> None:
    seen = session.info.pop(_PENDING, None)
    if seen:
        for engine, code, found in seen:
            _known.setdefault(engine, {})[code] = found


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def existing_id(session: Session, code: str) -> int | None:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    found = _known.get(engine, {}).get(code)
    if found is None:
        found = ledger.find_account_ids(session, [code]).get(code)
        if found is not None:
            session.info.setdefault(_PENDING, []).append((engine, code, found))
    return found


def account_id(session: Session, code: str, kind: str) -> int:
    """The account with this code, opened on first use (two first uses at once open it once)."""
    found = existing_id(session, code)
    if found is not None:
        return found
    try:
        return ledger.open_account(session, code=code, kind=kind).id
    except AccountCodeTaken:
        return ledger.find_account(session, code).id


def clearing(session: Session) -> int:
    return account_id(session, STRIPE_CLEARING, "stripe_clearing")


def refunds(session: Session) -> int:
    return account_id(session, REFUNDS, "refunds")
