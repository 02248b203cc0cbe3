"""SQLite indexes account history in sorted runs (ledger/history.py): whatever has been indexed so
far, an account's history reads the same, and verify notices an index that does not match."""

from __future__ import annotations

import random
import sqlite3

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.ledger import history as history_index
from card_service.ledger import service as ledger
from card_service.ledger import store_sqlite
from card_service.ledger.schemas import AccountFlags
from card_service.ledger.verify import verify
from card_service.migrate import alembic_config
from tests.ledger.helpers import (
    PURSE,
    assert_verifies,
    balances,
    open_accounts,
    req,
    run,
)

NONE = AccountFlags.NONE


@pytest.fixture
def sessions(sqlite_url: str) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(sqlite_url))


def _fares(sessions: sessionmaker[Session], rng: random.Random, batches: int) -> list[int]:
    """A bank, three purses and two buses; top-ups, then batches of fares between them."""
    bank, *accounts = open_accounts(
        sessions,
        ("bank", NONE, None),
        *((f"purse:{i}", PURSE, 100) for i in range(3)),
        ("bus:1", NONE, None),
        ("bus:2", NONE, None),
    )
    purses, buses = accounts[:3], accounts[3:]
    run(sessions, *(req(bank, p, 5_000) for p in purses))
    for _ in range(batches):
        fares = [req(rng.choice(purses), rng.choice(buses), rng.randint(1, 90)) for _ in range(7)]
        run(sessions, *fares)
    return [bank, *accounts]


def _mark(s: Session) -> tuple[int, int]:
    """The newest transfer's rowid and the index's mark."""
    top, mark, _, _ = history_index.state(s.connection().connection.driver_connection)
    return top, mark


def _read_both_ways(s: Session, account: int, **window: int) -> None:
    """The indexed read gives what the plain scan of every entry gives."""
    got = ledger.history(s, account, **window)  # type: ignore[arg-type]
    params = {
        "a": account,
        "lo": window.get("from_ts") or 0,
        "hi": window.get("to_ts") or 2**63 - 1,
        "n": window.get("limit", 50),
    }
    want = s.execute(text(ledger._HISTORY), params).all()
    assert [(e.transfer_id.bytes, e.timestamp, e.balance_after_cents) for e in got] == [
        (bytes(r[0]), r[1], r[5]) for r in want
    ]


def test_history_reads_the_same_whatever_is_indexed(sessions):
    rng = random.Random(7)
    accounts = _fares(sessions, rng, batches=6)
    with transaction(sessions) as s:
        stamps = sorted(
            int(t) for t in s.execute(text("SELECT timestamp FROM ledger_transfers")).scalars()
        )
    for indexed_now in (False, True, False):
        with transaction(sessions) as s:
            if indexed_now:
                assert ledger.index_history(s) > 0
                top, upto = _mark(s)
                assert top == upto
            for account in accounts:
                _read_both_ways(s, account)
                _read_both_ways(s, account, limit=3)
                lo, hi = sorted(rng.sample(stamps, 2))
                _read_both_ways(s, account, from_ts=lo, to_ts=hi, limit=1_000)
        # More fares after the mark: the next reads see indexed and unindexed entries together.
        run(sessions, *(req(accounts[1], accounts[4], 3) for _ in range(4)))
    assert_verifies(sessions)


def test_large_batches_index_a_run_slice_by_slice_and_reads_never_change(sessions, monkeypatch):
    monkeypatch.setattr(history_index, "INDEX_EVERY", 10)
    monkeypatch.setattr(history_index, "SLICES", 3)
    monkeypatch.setattr(store_sqlite, "OVERLAP", 5)  # batches of 7 fares count as large
    rng = random.Random(9)
    accounts = _fares(sessions, rng, batches=1)  # 3 top-ups and 7 fares: a run is due
    runs = []
    for _ in range(8):
        fares = [req(rng.choice(accounts[1:4]), rng.choice(accounts[4:]), 2) for _ in range(7)]
        run(sessions, *fares)
        with transaction(sessions) as s:
            runs.append(history_index.state(s.connection().connection.driver_connection))
            for account in accounts:
                _read_both_ways(s, account, limit=1_000)
                _read_both_ways(s, account, limit=4)  # an entry found both ways counts once
        assert_verifies(sessions)
    # Each run covers the transfers there were when it began, a slice of accounts per batch.
    marks = [mark for _, mark, _, _ in runs]
    assert marks == sorted(marks) and 0 < marks[-1] < runs[-1][0]
    assert any(run_from > 0 for *_, run_from in runs)  # a run was seen halfway


def test_a_run_is_cut_into_slices_of_about_as_many_entries_as_the_sample_holds(
    sessions, monkeypatch
):
    """A hot account takes a slice of its own; the others share slices of about as many."""
    monkeypatch.setattr(history_index, "INDEX_EVERY", 10)
    monkeypatch.setattr(history_index, "SLICES", 4)
    bank, p0, p1, p2, bus1, bus2 = _fares(sessions, random.Random(4), batches=2)
    # Half of the sample's 16 entries are bus 2's; the others, two each.
    sample = sorted([bus2] * 8 + [bank, p0, p1, p2] * 2)
    slices = []
    with transaction(sessions) as s:
        conn = s.connection().connection.driver_connection
        while (piece := history_index.next_slice(conn, sample)) is not None:
            piece.write(conn)
            slices.append((piece.lo, piece.hi))
            assert len(slices) <= 8
        top, mark = _mark(s)
    assert top == mark  # the run is done: its last slice moved the mark
    assert slices == [(0, p1), (p1, bus2), (bus2, history_index.ALL)]
    with transaction(sessions) as s:
        for account in (bank, p0, p1, p2, bus1, bus2):
            _read_both_ways(s, account, limit=1_000)
    assert_verifies(sessions)


def test_a_large_batch_sees_what_its_own_transaction_wrote_before_it(sessions, monkeypatch):
    """A large batch reads its accounts beside the connection while a slice is written, but only
    while its transaction has written nothing: an account opened and funded earlier in the same
    transaction is there, with its balance, and so is an id written there."""
    monkeypatch.setattr(history_index, "INDEX_EVERY", 10)
    monkeypatch.setattr(store_sqlite, "OVERLAP", 5)
    bank, *_ = accounts = _fares(sessions, random.Random(6), batches=2)  # a run is due
    with transaction(sessions) as s:
        purse = ledger.open_account(s, code="purse:new", kind="test", flags=PURSE, floor_cents=0)
        funded = ledger.create_transfers(s, [req(bank, purse.id, 70)])[0]
        fares = [req(purse.id, accounts[4], 10) for _ in range(7)]
        conn = s.connection().connection.driver_connection
        before = history_index.state(conn)
        results = ledger.create_transfers(s, [*fares, req(bank, purse.id, 70, id=funded.id)])
        assert [r.result.value for r in results] == ["ok"] * 7 + ["ok"]
        assert results[-1].replayed
        assert history_index.state(conn)[1:] != before[1:]  # this batch wrote a slice
    assert balances(sessions, purse.id) == (70, 70, 0, 0)
    assert_verifies(sessions)


def test_a_batch_that_fails_before_its_slice_starts_keeps_its_own_error(sessions, monkeypatch):
    """The reads before a slice fail (here: a database error): the batch raises that error, and
    neither the slice nor its saved state is written."""
    monkeypatch.setattr(history_index, "INDEX_EVERY", 10)
    monkeypatch.setattr(store_sqlite, "OVERLAP", 5)
    accounts = _fares(sessions, random.Random(8), batches=2)  # a run is due

    def broken(*_args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_sqlite.SQLiteStore, "lock_accounts", broken)
    with transaction(sessions) as s:
        before = history_index.state(s.connection().connection.driver_connection)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"), transaction(sessions) as s:
        ledger.open_account(s, code="purse:x", kind="test")  # written: no sibling reads
        ledger.create_transfers(s, [req(accounts[1], accounts[4], 1) for _ in range(7)])
    with transaction(sessions) as s:
        assert history_index.state(s.connection().connection.driver_connection) == before


def test_small_batches_catch_up_once_far_behind(sessions, monkeypatch):
    monkeypatch.setattr(history_index, "INDEX_EVERY", 5)  # small batches wait for 20
    accounts = _fares(sessions, random.Random(3), batches=2)  # 3 top-ups and 14 fares
    with transaction(sessions) as s:
        assert _mark(s) == (17, 0)
    run(sessions, *(req(accounts[1], accounts[4], 1) for _ in range(3)))
    with transaction(sessions) as s:
        assert _mark(s) == (20, 20)
    assert_verifies(sessions)


def test_verify_names_a_transfer_the_index_lacks_and_counts_a_stray_entry(sessions):
    _fares(sessions, random.Random(5), batches=2)
    with transaction(sessions) as s:
        ledger.index_history(s)
    assert_verifies(sessions)
    with transaction(sessions) as s:  # a stray entry: for an account no transfer names
        s.execute(
            text(
                "INSERT INTO ledger_history (account_id, timestamp, transfer_id) "
                "SELECT 999, timestamp, id FROM ledger_transfers LIMIT 1"
            )
        )
    with transaction(sessions) as s:
        assert any("1 entries match no transfer" in p for p in verify(s).problems)

    accounts = open_accounts(sessions, ("a", NONE, None), ("b", NONE, None))
    run(sessions, req(accounts[0], accounts[1], 5))
    with transaction(sessions) as s:  # the mark moved past a transfer that was never indexed
        s.execute(text("UPDATE ledger_history_state SET indexed_upto = indexed_upto + 1"))
        newest = text("SELECT id FROM ledger_transfers ORDER BY rowid DESC LIMIT 1")
        missing = bytes(s.execute(newest).scalar_one())
    with transaction(sessions) as s:
        problems = verify(s).problems
    assert any(missing.hex() in p.replace("-", "") for p in problems), problems


def test_the_migration_indexes_the_history_already_there(sessions, sqlite_url):
    accounts = _fares(sessions, random.Random(11), batches=3)
    with transaction(sessions) as s:
        before = {a: ledger.history(s, a, limit=100) for a in accounts}
    engine = make_engine(sqlite_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010_cap_true_up")
        assert conn.execute(text("SELECT count(*) FROM ledger_transfers")).scalar_one() == 24
        command.upgrade(cfg, "head")
    engine.dispose()
    with transaction(sessions) as s:
        assert _mark(s) == (24, 24)
        assert {a: ledger.history(s, a, limit=100) for a in accounts} == before
    assert_verifies(sessions)
