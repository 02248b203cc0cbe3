"""Hook points other domains plug into. Settlement calls them; they must only flush.

``AFTER_PURSE_DEBITS``: called once per settled batch, in the batch's transaction, with the ledger
ids of the purses the batch debited (for example, payments' automatic top-up appends a function
here). They run before the purse deny list is refreshed, so a top-up they make in the same
transaction keeps the card off the deny list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

PurseHook = Callable[[Session, Sequence[int]], None]
AFTER_PURSE_DEBITS: list[PurseHook] = []


def after_purse_debits(session: Session, purse_account_ids: Sequence[int]) -> None:
    for hook in list(AFTER_PURSE_DEBITS):
        hook(session, purse_account_ids)
