"""A holder's open debt, as the card lifecycle sees it.

Payments books what a chargeback takes beyond the purse as a debit to the holder's
``purse_debt:<pseudonym>`` ledger account and deny-lists the holder's live cards (reason
``purse_debt``) until the debt is paid (card_service/payments/debts.py). The debt belongs to the
holder, like the purse, not to a card: a card issued, replaced or renewed while it is open starts
on the deny list, and a found card unblocked while it is open stays on it. The card is still
issued (it is the citizen's card for every municipal service, not only a purse); only paying with
it waits. Payments takes all of the holder's live cards off the list once the debt is paid.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from card_service.identity.models import Holder
from card_service.ledger import service as ledger

DEBT_REASON = "purse_debt"


def debt_code(pseudonym: str) -> str:
    """The ledger code of the holder's debt account (opened by payments on the first debt)."""
    return f"purse_debt:{pseudonym}"


def owed_cents(session: Session, holder: Holder) -> int:
    """What the holder owes now (0 when nothing, or no debt account)."""
    code = debt_code(holder.pseudonym)
    found = ledger.find_account_ids(session, [code]).get(code)
    if found is None:
        return 0
    return max(-ledger.balance(session, found).balance_cents, 0)
