"""Money Stripe takes back that the purse no longer holds: the holder's debt, and the deny list.

A purse may not go below its floor (the ledger refuses), yet a chargeback or a refund made at
Stripe must be booked whatever the purse holds. The purse pays what it has; the rest is debited
to the holder's ``purse_debt`` account, so the holder's balance (purse + debt) goes below zero and
their cards go on the deny list. The next credit to the purse pays the debt first; once it is
paid, the cards come off the list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from card_service.cards import service as cards
from card_service.cards.debt import DEBT_REASON
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.ledger.results import TransferRejected
from card_service.ledger.schemas import TransferRequest, linked
from card_service.payments import accounts

DENY_REASON = DEBT_REASON  # cards/debt.py: new cards of a holder in debt start listed
SETTLED_REASON = "debt_settled"


@dataclass(frozen=True)
class Balances:
    purse_cents: int
    debt_cents: int  # what the holder owes (0 or more)
    pending_cents: int  # holds on the purse (fares being settled)

    @property
    def balance_cents(self) -> int:
        """Purse less debt: below zero while a chargeback is not paid."""
        return self.purse_cents - self.debt_cents

    @property
    def available_cents(self) -> int:
        return self.purse_cents - self.pending_cents


def purse_of(session: Session, holder: Holder) -> int:
    return cards.ensure_purse(session, holder)


def balances(session: Session, holder: Holder) -> Balances:
    if holder.purse_account_id is None:
        return Balances(0, 0, 0)
    purse = ledger.balance(session, holder.purse_account_id)
    debt_id = accounts.existing_id(session, accounts.purse_debt(holder.pseudonym))
    owed = -ledger.balance(session, debt_id).balance_cents if debt_id is not None else 0
    return Balances(purse.balance_cents, max(owed, 0), purse.debits_pending)


def take(
    session: Session,
    holder: Holder,
    amount: int,
    *,
    to_account: int,
    key: str,
    code: str,
    debt_code: str,
    user_data: str | None,
) -> tuple[int, int]:
    """Move ``amount`` out of the holder's money to ``to_account`` even if the purse lacks it.

    Returns (from the purse, as debt). The two transfers are linked: both or neither. A fare
    settling at the same moment can make the purse refuse; the caller's transaction then rolls
    back and is retried with fresh balances.
    """
    purse = purse_of(session, holder)
    available = max(balances(session, holder).available_cents, 0)
    from_purse = min(amount, available)
    debt = amount - from_purse
    requests = []
    if from_purse:
        requests.append(
            TransferRequest(
                accounts.transfer_id(key, "purse"), purse, to_account, from_purse, code, user_data
            )
        )
    if debt:
        debt_account = accounts.account_id(
            session, accounts.purse_debt(holder.pseudonym), "purse_debt"
        )
        requests.append(
            TransferRequest(
                accounts.transfer_id(key, "debt"),
                debt_account,
                to_account,
                debt,
                debt_code,
                user_data,
            )
        )
    for result in ledger.create_transfers(session, linked(requests)):
        if not result.ok:
            raise TransferRejected(result.result, result.id)
    if debt:
        cards.deny_holder(session, holder.id, DENY_REASON)
    return from_purse, debt


def settle(session: Session, holder: Holder, cause: uuid.UUID) -> int:
    """After a credit to the purse (``cause``: its transfer id): pay what the holder owes from
    the purse, and take the cards off the deny list once nothing is owed. Returns cents paid."""
    debt_id = accounts.existing_id(session, accounts.purse_debt(holder.pseudonym))
    if debt_id is None or holder.purse_account_id is None:
        return 0
    now = balances(session, holder)
    if now.debt_cents <= 0:
        return 0
    pay = min(now.debt_cents, max(now.available_cents, 0))
    if pay:
        request = TransferRequest(
            accounts.transfer_id("settle", cause),
            holder.purse_account_id,
            debt_id,
            pay,
            accounts.DEBT_SETTLED,
        )
        result = ledger.create_transfers(session, [request])[0]
        if not result.ok:
            raise TransferRejected(result.result, result.id)
    if pay == now.debt_cents:
        cards.allow_holder(session, holder.id, SETTLED_REASON)
    return pay
