"""32 fare gates debit one purse at once on PostgreSQL: exactly as many succeed as it can pay."""

from __future__ import annotations

import itertools
import threading
import uuid

import pytest

from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.ledger import clock
from card_service.ledger import service as ledger
from card_service.ledger.schemas import AccountFlags, TransferRequest, TransferResult, linked
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


@pytest.mark.postgres
def test_16_threads_pay_fares_into_two_revenue_accounts_and_every_entry_adds_up(pg_url):
    """Revenue accounts have no limits: a small batch locks them only in its write statement and
    their entries' balances are assigned there. Every cent arrives, each account's entries form
    one running balance in time order, and verify agrees."""
    engine = make_engine(pg_url, pool_size=16, max_overflow=0)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as s:
        bank = ledger.open_account(s, code="bank", kind="t").id
        purses = [
            ledger.open_account(
                s,
                code=f"purse:{i}",
                kind="purse",
                flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            ).id
            for i in range(16)
        ]
        buses = [ledger.open_account(s, code=f"bus:{i}", kind="service_revenue").id for i in (0, 1)]
        ledger.create_transfers(
            s, [TransferRequest(uuid.uuid4(), bank, p, 1_000, "topup") for p in purses]
        )
    barrier = threading.Barrier(16)
    stamps: list[int] = []
    lock = threading.Lock()

    def gate(purse: int) -> None:
        barrier.wait()
        for k in range(20):
            request = TransferRequest(uuid.uuid4(), purse, buses[k % 2], 10 + k, "fare")
            with transaction(sessions) as s:
                result = ledger.create_transfer(s, request)
            assert result.timestamp is not None
            with lock:
                stamps.append(result.timestamp)

    threads = [threading.Thread(target=gate, args=(p,)) for p in purses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_purse = sum(10 + k for k in range(20))
    with transaction(sessions) as s:
        assert ledger.balance(s, buses[0]).balance_cents == 16 * sum(
            10 + k for k in range(0, 20, 2)
        )
        assert ledger.balance(s, buses[1]).balance_cents == 16 * sum(
            10 + k for k in range(1, 20, 2)
        )
        assert all(ledger.balance(s, p).balance_cents == 1_000 - per_purse for p in purses)
        for bus in buses:
            entries = ledger.history(s, bus, limit=1_000)
            assert len(entries) == 160
            assert len({e.timestamp for e in entries}) == 160
            for newer, older in itertools.pairwise(entries):
                assert newer.balance_after_cents == older.balance_after_cents + newer.posted_delta
        assert sorted(stamps) == sorted(
            e.timestamp for bus in buses for e in ledger.history(s, bus, limit=1_000)
        )
        seal(s)
    with transaction(sessions) as s:
        assert verify(s).ok
    engine.dispose()


@pytest.mark.postgres
def test_a_transfer_from_a_process_whose_clock_is_behind_lands_after_the_newest_entry(pg_url):
    engine = make_engine(pg_url, pool_size=2, max_overflow=0)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as s:
        bank = ledger.open_account(s, code="bank", kind="t").id
        purse = ledger.open_account(
            s, code="purse", kind="purse", flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        ).id
        bus = ledger.open_account(s, code="bus", kind="service_revenue").id
        ledger.create_transfer(s, TransferRequest(uuid.uuid4(), bank, purse, 1_000, "topup"))
    # Another process, its clock ten seconds ahead, pays the bus account in a large batch (which
    # locks every account as it prepares) and has not committed yet when the fare reads the bus
    # account (without its lock) and then waits for that lock in its write.
    clock._last = clock.now_ns() + 10 * 10**9
    refunds = [TransferRequest(uuid.uuid4(), bank, bus, 1, "refund") for _ in range(64)]
    fares: list[TransferResult] = []
    with transaction(sessions) as s:
        ahead = ledger.create_transfers(s, refunds)[-1]
        clock._last = 0  # the fare's process: its clock ten seconds behind those entries

        def pay() -> None:
            with transaction(sessions) as s2:
                fares.append(
                    ledger.create_transfer(
                        s2, TransferRequest(uuid.uuid4(), purse, bus, 100, "fare")
                    )
                )

        payer = threading.Thread(target=pay)
        payer.start()
        payer.join(timeout=1.0)
        assert payer.is_alive()  # waiting for the bus account's lock
    payer.join()
    fare = fares[0]
    assert fare.timestamp is not None and ahead.timestamp is not None
    assert fare.timestamp > ahead.timestamp
    with transaction(sessions) as s:
        newest = ledger.history(s, bus, limit=1)[0]
        assert (newest.transfer_id, newest.timestamp) == (fare.id, fare.timestamp)
        assert newest.balance_after_cents == 164
        assert ledger.history(s, purse, limit=1)[0].timestamp == fare.timestamp
        seal(s)
    with transaction(sessions) as s:
        assert verify(s).ok
    engine.dispose()


@pytest.mark.postgres
def test_a_failed_chain_does_not_set_a_revenue_account_back_in_time(pg_url):
    """A small batch whose linked chain fails still writes its failure; the revenue account the
    chain touched keeps the newest timestamp, even one written while the batch waited for it."""
    engine = make_engine(pg_url, pool_size=2, max_overflow=0)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as s:
        bank = ledger.open_account(s, code="bank", kind="t").id
        flags = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        rich = ledger.open_account(s, code="rich", kind="purse", flags=flags).id
        poor = ledger.open_account(s, code="poor", kind="purse", flags=flags).id
        bus = ledger.open_account(s, code="bus", kind="service_revenue").id
        ledger.create_transfer(s, TransferRequest(uuid.uuid4(), bank, rich, 1_000, "topup"))
    chain = linked(
        [
            TransferRequest(uuid.uuid4(), rich, bus, 100, "fare"),
            TransferRequest(uuid.uuid4(), poor, bus, 100, "fare"),  # poor cannot pay
        ]
    )
    refunds = [TransferRequest(uuid.uuid4(), bank, bus, 1, "refund") for _ in range(64)]
    answers: list[list[str]] = []
    with transaction(sessions) as s:
        newest = ledger.create_transfers(s, refunds)[-1].timestamp

        def pay() -> None:
            with transaction(sessions) as s2:
                answers.append([r.result.value for r in ledger.create_transfers(s2, chain)])

        payer = threading.Thread(target=pay)
        payer.start()
        payer.join(timeout=1.0)
        assert payer.is_alive()  # waiting for the bus account's lock
    payer.join()
    assert answers == [["linked_event_failed", "exceeds_credits"]]
    with transaction(sessions) as s:
        assert ledger.get_account(s, bus).timestamp_last >= newest
        assert ledger.balance(s, bus).balance_cents == 64
        assert ledger.balance(s, rich).balance_cents == 1_000
        seal(s)
    with transaction(sessions) as s:
        assert verify(s).ok
    engine.dispose()
