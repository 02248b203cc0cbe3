"""A holder's purse: the offline allowance below zero, and what an online payment may spend.

A bus validator decides offline, from its last deny list: it cannot see the balance. So a purse
is opened with a floor (``OFFLINE_FLOOR_CENTS`` below zero): taps settled later may take it that
far below zero, and settlement then deny-lists the card until it is topped up (ADR 0008). A
payment made online (a bill at the kiosk, a charge through the service API) can see the balance,
so it never uses that allowance: ``spendable_online`` is the balance less holds.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.ledger.models import Account

# About three bus rides: what a card may owe after taps made while the validator could not know.
OFFLINE_FLOOR_CENTS = 500


def spendable_online(session: Session, purse_account_id: int) -> int:
    """The purse's balance less its holds, without the offline allowance. The account row is
    locked, so the ledger transfer that follows in this transaction sees the same balance."""
    credits, debits, pending = session.execute(
        select(Account.credits_posted, Account.debits_posted, Account.debits_pending)
        .where(Account.id == purse_account_id)
        .with_for_update()
    ).one()
    return int(credits) - int(debits) - int(pending)
