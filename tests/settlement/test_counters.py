"""At settlement a card's counter counts once: a replayed tap is refused, even across sessions."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from card_service.db import transaction
from card_service.protocol.settlement import CounterLedger
from card_service.terminals.counters import DbCounterLedger

UID = bytes.fromhex("04782E21801D80")


def test_a_counter_is_claimed_once_and_a_rollback_releases_it(sessions):
    ledger: CounterLedger
    with transaction(sessions) as s:
        ledger = DbCounterLedger(s)
        assert ledger.claim(UID, 7) is True
        assert ledger.claim(UID, 7) is False
        assert ledger.claim(UID, 8) is True
        assert DbCounterLedger(s).claim(bytes.fromhex("04AA"), 7) is True
    with transaction(sessions) as s:
        assert DbCounterLedger(s).claim(UID, 7) is False
    with pytest.raises(RuntimeError), transaction(sessions) as s:
        assert DbCounterLedger(s).claim(UID, 9) is True
        raise RuntimeError("the settlement failed")
    with transaction(sessions) as s:
        assert DbCounterLedger(s).claim(UID, 9) is True


def test_settled_counters_cannot_be_deleted(sessions):
    with transaction(sessions) as s:
        DbCounterLedger(s).claim(UID, 1)
    with pytest.raises(DatabaseError, match="append_only"), transaction(sessions) as s:
        s.execute(text("DELETE FROM terminals_settled_counters"))
