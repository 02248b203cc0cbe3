"""At settlement a card's counter counts once: a replayed tap is refused, even across sessions."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.protocol.settlement import CounterLedger
from card_service.terminals.checks import claim_counters
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


OTHER = bytes.fromhex("04AABBCCDDEEFF")


def test_a_batch_of_claims_refuses_the_counters_seen_before_and_claims_the_rest(sessions):
    with transaction(sessions) as s:
        assert DbCounterLedger(s).refuse_many([(UID, 1), (UID, 2)]) == set()
    with transaction(sessions) as s:
        # (UID, 2) was claimed before: on PostgreSQL the batch's COPY fails and is redone per pair
        assert DbCounterLedger(s).refuse_many([(UID, 2), (UID, 3), (OTHER, 2)]) == {(UID, 2)}
        assert DbCounterLedger(s).claim(UID, 4) is True  # the transaction goes on
    with transaction(sessions) as s:
        ledger = DbCounterLedger(s)
        assert ledger.refuse_many([(UID, 3), (OTHER, 2), (UID, 5)]) == {(UID, 3), (OTHER, 2)}
        assert ledger.claim_many([(UID, 5), (UID, 6), (UID, 6)]) == {(UID, 6)}
        taps = [SimpleNamespace(uid=OTHER, counter=9), SimpleNamespace(uid=OTHER, counter=9)]
        assert claim_counters(ledger, taps) == [True, False]  # type: ignore[arg-type]


def test_two_settlements_claiming_one_counter_at_once_settle_it_once(pg_url):
    engine = make_engine(pg_url)
    sessions = make_sessionmaker(engine)
    try:
        first = sessions()
        assert DbCounterLedger(first).refuse_many([(UID, 1), (UID, 2)]) == set()
        second: list[set[tuple[bytes, int]]] = []

        def other() -> None:  # waits on the first's uncommitted claim of (UID, 2)
            with transaction(sessions) as s:
                second.append(DbCounterLedger(s).refuse_many([(UID, 2), (UID, 3)]))

        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive()  # blocked by the first settlement's row
        first.commit()
        first.close()
        thread.join(10)
        assert second == [{(UID, 2)}]
        with transaction(sessions) as s:
            n = s.execute(text("SELECT count(*) FROM terminals_settled_counters")).scalar()
            assert n == 3
    finally:
        engine.dispose()
