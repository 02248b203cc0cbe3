"""A transfer in a transaction of its own (ledger.transfer_alone), and what a small batch leaves
behind in its caller's transaction."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.ledger import service as ledger
from card_service.ledger.schemas import AccountFlags, TransferFlags, TransferRequest
from card_service.ledger.seal import seal
from card_service.ledger.store import ConcurrentWrite
from card_service.ledger.verify import verify
from tests.ledger.helpers import (
    PURSE,
    assert_verifies,
    balances,
    count_transfers,
    open_accounts,
    post,
    req,
    run,
)

NONE = AccountFlags.NONE


@pytest.fixture
def accts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """A funding account, a purse that may go 200 cents below zero, and a revenue account."""
    return tuple(  # type: ignore[return-value]
        open_accounts(sessions, ("bank", NONE, None), ("purse", PURSE, 200), ("bus", NONE, None))
    )


def test_a_transfer_alone_is_committed_and_answers_as_a_batch_would(engine, sessions, accts):
    bank, purse, bus = accts
    assert ledger.transfer_alone(engine, req(bank, purse, 1000)).ok
    fare = req(purse, bus, 150)
    first = ledger.transfer_alone(engine, fare)
    assert first.ok and not first.replayed and first.timestamp
    again = ledger.transfer_alone(engine, fare)
    assert again.ok and again.replayed and again.timestamp == first.timestamp
    assert balances(sessions, purse) == (150, 1000, 0, 0)
    assert balances(sessions, bus) == (0, 150, 0, 0)
    assert count_transfers(sessions) == 2


def test_a_refused_transfer_alone_is_named_kept_and_moves_nothing(engine, sessions, accts):
    bank, purse, bus = accts
    run(sessions, req(bank, purse, 100))
    too_much = req(purse, bus, 301)  # 100 + a floor of 200
    assert ledger.transfer_alone(engine, too_much).result.value == "exceeds_credits"
    assert ledger.transfer_alone(engine, req(bank, purse, 0)).result.value == (
        "amount_must_be_positive"
    )
    run(sessions, req(bank, purse, 1000))
    # The failure is state-dependent, so it was kept: a retry cannot turn it into a success.
    retry = ledger.transfer_alone(engine, too_much)
    assert retry.result.value == "exceeds_credits" and retry.replayed
    assert balances(sessions, purse) == (0, 1100, 0, 0)
    assert balances(sessions, bus) == (0, 0, 0, 0)
    assert_verifies(sessions)


@pytest.mark.postgres
def test_a_small_batch_leaves_the_callers_plan_setting_as_it_was(pg_url):
    """Small batches run their statements on generic plans; the rest of the caller's
    transaction must not: it gets back the setting it had, whatever the batch did."""
    engine = make_engine(pg_url, pool_size=1)
    sessions = make_sessionmaker(engine)
    bank, purse, bus = open_accounts(
        sessions, ("bank", NONE, None), ("purse", PURSE, 0), ("bus", NONE, None)
    )
    hold = req(bank, purse, 500, flags=TransferFlags.PENDING, timeout_s=60)
    fare = req(purse, bus, 10)
    calls = [
        [req(bank, purse, 1000)],  # written
        [req(purse, bus, 10**6)],  # only a failure written
        [fare],
        [fare],  # replayed: nothing written
        [hold],
        [post(hold.id)],  # a post: prepared by the general path
    ]
    for requests in calls:
        with transaction(sessions) as s:
            s.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            ledger.create_transfers(s, requests)
            setting = s.execute(text("SELECT current_setting('plan_cache_mode')")).scalar_one()
        assert setting == "force_custom_plan", requests
        with transaction(sessions) as s:
            ledger.create_transfers(s, requests)
            setting = s.execute(text("SELECT current_setting('plan_cache_mode')")).scalar_one()
        assert setting == "auto", requests
    assert balances(sessions, purse) == (10, 1500, 0, 0)
    engine.dispose()


@pytest.mark.postgres
def test_eight_clients_alone_into_one_revenue_account(pg_url):
    """Concurrent single transfers on their own transactions: every cent lands once, verify
    recomputes the same balances and the chain seals."""
    engine = make_engine(pg_url, pool_size=8, max_overflow=0)
    sessions = make_sessionmaker(engine)
    bank, bus = open_accounts(sessions, ("bank", NONE, None), ("bus", NONE, None))
    purses = open_accounts(sessions, *((f"p{i}", PURSE, 0) for i in range(8)))
    for p in purses:
        assert ledger.transfer_alone(engine, req(bank, p, 1000)).ok
    barrier = threading.Barrier(8)
    refused: list[str] = []

    def client(purse: int) -> None:
        barrier.wait()
        for _ in range(25):
            result = ledger.transfer_alone(engine, req(purse, bus, 50, id=uuid.uuid4()))
            if not result.ok:
                refused.append(result.result.value)

    threads = [threading.Thread(target=client, args=(p,)) for p in purses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 1,000 cents pay twenty fares of 50; the last five of each client are refused.
    assert sorted(set(refused)) == ["exceeds_credits"] and len(refused) == 8 * 5
    assert balances(sessions, bus) == (0, 8 * 20 * 50, 0, 0)
    assert_verifies(sessions)
    engine.dispose()


@pytest.mark.parametrize(
    "user_data",
    ["it's", "a 'quoted' \\ back\\slash", 'a "double" {brace}, comma', "ñ €uro ✓", "NULL", ""],
)
def test_text_arrives_exactly_as_sent_and_the_chain_checks(engine, sessions, accts, user_data):
    bank, purse, _ = accts
    sent = req(bank, purse, 100)
    sent = TransferRequest(sent.id, bank, purse, 100, "top'up", user_data=user_data)
    assert ledger.transfer_alone(engine, sent).ok
    assert ledger.transfer_alone(engine, sent).replayed  # the same content, read back
    with transaction(sessions) as s:
        entry = ledger.history(s, purse, limit=1)[0]
        seal(s)
    assert (entry.code, entry.user_data) == ("top'up", user_data)
    with transaction(sessions) as s:
        assert verify(s).ok


@pytest.mark.postgres
def test_on_postgresql_a_plain_transfer_takes_one_statement_and_a_refusal_two(pg_url):
    """A transfer that succeeds is written by one statement (ledger/alone.py, ``once``); one
    that fails takes the two-trip path, whose rules name the failure and keep it."""
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    sessions = make_sessionmaker(engine)
    bank, purse = open_accounts(sessions, ("bank", NONE, None), ("purse", PURSE, 0))

    def prepared() -> list[str]:
        with transaction(sessions) as s:
            names = s.execute(text("SELECT name FROM pg_prepared_statements ORDER BY prepare_time"))
            return list(names.scalars())

    assert ledger.transfer_alone(engine, req(bank, purse, 5)).ok
    assert len(prepared()) == 1  # the one statement, prepared by psycopg
    refused = ledger.transfer_alone(engine, req(purse, bank, 6))
    assert refused.result.value == "exceeds_credits"
    assert "ledger_alone_prepare" in prepared()[1:]
    assert ledger.transfer_alone(engine, req(purse, bank, 5)).ok
    assert balances(sessions, purse) == (5, 5, 0, 0)
    assert_verifies(sessions)
    engine.dispose()


@pytest.mark.postgres
def test_a_database_error_rolls_back_and_the_connection_serves_the_next_transfer(pg_url):
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    sessions = make_sessionmaker(engine)
    bank, purse = open_accounts(sessions, ("bank", NONE, None), ("purse", PURSE, 0))
    with engine.connect() as c:
        backend = c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with pytest.raises(psycopg.errors.NumericValueOutOfRange):
        ledger.transfer_alone(engine, req(bank, purse, 2**70))  # past BIGINT
    assert count_transfers(sessions) == 0
    with engine.connect() as c:  # rolled back cleanly: the pool kept the same connection
        assert c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() == backend
    assert ledger.transfer_alone(engine, req(bank, purse, 5)).ok
    with transaction(sessions) as s:
        s.execute(text("CREATE TEMPORARY TABLE t (x int)"))
        s.rollback()  # the pooled connection is back in transactional mode: this undid it
    with transaction(sessions) as s:
        assert s.execute(text("SELECT to_regclass('pg_temp.t')")).scalar_one() is None
    assert balances(sessions, purse) == (0, 5, 0, 0)
    engine.dispose()


@pytest.mark.postgres
def test_the_same_id_written_at_the_same_moment_is_a_concurrent_write_safe_to_retry(pg_url):
    engine = make_engine(pg_url, pool_size=2, max_overflow=0)
    sessions = make_sessionmaker(engine)
    bank, purse, other = open_accounts(
        sessions, ("bank", NONE, None), ("purse", PURSE, 0), ("other", PURSE, 0)
    )
    first = req(bank, purse, 100)
    same_id_elsewhere = TransferRequest(first.id, bank, other, 100, "test")
    outcome: list[object] = []
    holder = sessions()
    ledger.create_transfers(holder, [same_id_elsewhere])  # written, not committed yet

    def client() -> None:
        try:
            outcome.append(ledger.transfer_alone(engine, first))
        except ConcurrentWrite as exc:
            outcome.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    thread.join(timeout=1.0)  # it waits on the unique index for the other transaction
    holder.commit()
    holder.close()
    thread.join()
    assert isinstance(outcome[0], ConcurrentWrite)
    retry = ledger.transfer_alone(engine, first)  # the stored answer: another content, same id
    assert retry.result.value == "exists_with_different_credit_account_id"
    assert balances(sessions, purse) == (0, 0, 0, 0)
    assert balances(sessions, other) == (0, 100, 0, 0)
    engine.dispose()
