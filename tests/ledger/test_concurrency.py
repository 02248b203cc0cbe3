"""32 fare gates debit one purse at once on PostgreSQL: exactly as many succeed as it can pay."""

from __future__ import annotations

import threading
import uuid

import pytest

from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.ledger import service as ledger
from card_service.ledger.schemas import AccountFlags, TransferRequest
from card_service.ledger.seal import seal
from card_service.ledger.verify import verify


@pytest.mark.postgres
def test_32_threads_debit_one_purse_with_a_floor(pg_url):
    engine = make_engine(pg_url, pool_size=32, max_overflow=0)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as s:
        bank = ledger.open_account(s, code="bank", kind="t").id
        purse = ledger.open_account(
            s,
            code="purse",
            kind="purse",
            floor_cents=100,
            flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
        ).id
        bus = ledger.open_account(s, code="bus", kind="service_revenue").id
        ledger.create_transfer(s, TransferRequest(uuid.uuid4(), bank, purse, 1_000, "topup"))
    # 1,000 cents + 100 floor = 1,100: eleven fares of 100 fit, twenty-one do not.
    barrier = threading.Barrier(32)
    results: list[str] = []
    lock = threading.Lock()

    def gate() -> None:
        barrier.wait()
        with transaction(sessions) as s:
            r = ledger.create_transfers(s, [TransferRequest(uuid.uuid4(), purse, bus, 100, "fare")])
        with lock:
            results.append(r[0].result.value)

    threads = [threading.Thread(target=gate) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 11
    assert results.count("exceeds_credits") == 21
    with transaction(sessions) as s:
        assert ledger.balance(s, purse).balance_cents == -100
        assert ledger.balance(s, bus).balance_cents == 1_100
        seal(s)
    with transaction(sessions) as s:
        assert verify(s).ok
    engine.dispose()
