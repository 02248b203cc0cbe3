"""Hook points other domains plug into. Settlement calls them; they must only flush.

``AFTER_PURSE_DEBITS``: called once per settled batch, in the batch's transaction, with the ledger
ids of the purses the batch debited (for example, payments' automatic top-up). They run before the
purse deny list is refreshed, so a top-up they make in the same transaction keeps the card off the
deny list.

The hooks every process needs are named in ``DEFAULT_AFTER_PURSE_DEBITS`` ("module:function") and
registered on the first settled batch, whoever settles it (the served app, ``card-service
simulate``, a test calling settlement directly): registration does not depend on which modules a
process happened to import first, and terminals imports no other domain at import time.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

PurseHook = Callable[[Session, Sequence[int]], None]
AFTER_PURSE_DEBITS: list[PurseHook] = []
DEFAULT_AFTER_PURSE_DEBITS = ("card_service.payments.auto_topup:after_purse_debits",)
_defaults_loaded = False
_lock = threading.Lock()


def _load_defaults() -> None:
    global _defaults_loaded
    with _lock:
        if _defaults_loaded:
            return
        for name in DEFAULT_AFTER_PURSE_DEBITS:
            module, function = name.split(":")
            hook = getattr(importlib.import_module(module), function)
            if hook not in AFTER_PURSE_DEBITS:
                AFTER_PURSE_DEBITS.append(hook)
        _defaults_loaded = True


def after_purse_debits(session: Session, purse_account_ids: Sequence[int]) -> None:
    if not _defaults_loaded:
        _load_defaults()
    for hook in list(AFTER_PURSE_DEBITS):
        hook(session, purse_account_ids)
