"""A long upload is written while it is decided (PostgreSQL: COPY as rows are final; SQLite: a
second thread decides while the first writes). What it records must be exactly what the same
requests record when sent in short batches, which take the plain path."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.ledger import service as ledger
from card_service.ledger.schemas import AccountFlags, TransferFlags, TransferRequest
from card_service.ledger.store import ConcurrentWrite
from tests.ledger.helpers import (
    PURSE,
    assert_verifies,
    count_transfers,
    open_accounts,
    post,
    req,
    run,
    void,
)

NONE = AccountFlags.NONE
LINKED = TransferFlags.LINKED
TEXTS = ["fare", 'a "quoted" | {braced} \\ tab\there', "ñandú €", "", "NULL"]


def _accounts(sessions: sessionmaker[Session], tag: str) -> list[int]:
    """A bank, five purses that may go 200 below zero, a revenue account."""
    specs = [(f"{tag}:bank", NONE, None)]
    specs += [(f"{tag}:purse{i}", PURSE, 200) for i in range(5)]
    return open_accounts(sessions, *specs, (f"{tag}:rev", NONE, None))


def _upload(accounts: list[int], holds: list[uuid.UUID], seed: int) -> list[list[TransferRequest]]:
    """About 2,000 requests in groups that must stay together (a linked chain is one group):
    fares, some refused for funds, holds, posts and voids of earlier holds, chains that succeed
    and chains that fail in the middle, replays, and odd codes and user data."""
    rng = random.Random(seed)
    bank, purses, rev = accounts[0], accounts[1:6], accounts[6]
    groups: list[list[TransferRequest]] = []
    sent: list[TransferRequest] = []
    while sum(map(len, groups)) < 2000:
        purse = rng.choice(purses)
        kind = rng.randrange(10)
        if kind < 5:
            fare = TransferRequest(
                uuid.uuid4(), purse, rev, rng.randint(1, 150), rng.choice(TEXTS),
                user_data=rng.choice([None, *TEXTS]),
            )  # fmt: skip
            groups.append([fare])
            sent.append(fare)
        elif kind == 5:
            hold = req(purse, rev, rng.randint(1, 100), flags=TransferFlags.PENDING, timeout_s=60)
            groups.append([hold])
        elif kind == 6 and holds:
            pending = holds.pop(rng.randrange(len(holds)))
            groups.append(
                [post(pending, rng.choice([None, 1])) if rng.random() < 0.5 else void(pending)]
            )
        elif kind == 7:
            size = rng.randint(2, 4)
            chain = [req(bank, purse, 10, flags=LINKED) for _ in range(size - 1)]
            last_amount = rng.choice([5, 10**9])  # the second fails for funds: the chain undone
            groups.append([*chain, req(purse, rev, last_amount)])
        elif kind == 8 and sent:
            groups.append([rng.choice(sent)])  # a replay of an earlier fare
        else:
            groups.append([req(bank, purse, rng.randint(1, 500))])
    return groups


def _holds(sessions: sessionmaker[Session], accounts: list[int], n: int) -> list[uuid.UUID]:
    bank, purses, rev = accounts[0], accounts[1:6], accounts[6]
    run(sessions, *[req(bank, p, 5_000) for p in purses])
    holds = [req(purses[i % 5], rev, 50, flags=TransferFlags.PENDING) for i in range(n)]
    run(sessions, *holds)
    return [h.id for h in holds]


def _entries(sessions: sessionmaker[Session], account: int) -> list[tuple[object, ...]]:
    with transaction(sessions) as s:
        rows = s.execute(
            text(
                "SELECT is_debit, posted_delta, pending_delta, balance_after_cents, code, "
                "user_data FROM ledger_entries WHERE account_id = :a ORDER BY timestamp"
            ),
            {"a": account},
        )
        return [tuple(r) for r in rows]


def test_a_long_upload_records_what_short_batches_would(sessions):
    long_accounts, short_accounts = _accounts(sessions, "long"), _accounts(sessions, "short")
    long_groups = _upload(long_accounts, _holds(sessions, long_accounts, 40), seed=7)
    short_groups = _upload(short_accounts, _holds(sessions, short_accounts, 40), seed=7)
    with transaction(sessions) as s:
        requests = [r for g in long_groups for r in g]
        long_results = [r.result.value for r in ledger.create_transfers(s, requests)]
    short_results: list[str] = []
    batch: list[TransferRequest] = []
    for group in [*short_groups, []]:
        if len(batch) + len(group) > 40 or not group:
            short_results += run(sessions, *batch)
            batch = []
        batch += group

    assert long_results == short_results
    assert {"ok", "exceeds_credits", "linked_event_failed"} <= set(long_results)
    for mine, theirs in zip(long_accounts, short_accounts, strict=True):
        assert _entries(sessions, mine) == _entries(sessions, theirs)
    assert_verifies(sessions)


def test_a_long_upload_retried_whole_is_answered_from_what_was_stored(sessions):
    accounts = _accounts(sessions, "retry")
    groups = _upload(accounts, _holds(sessions, accounts, 40), seed=11)
    requests = [r for g in groups for r in g]
    with transaction(sessions) as s:
        first = ledger.create_transfers(s, requests)
    with transaction(sessions) as s:
        again = ledger.create_transfers(s, requests)
    assert [r.result for r in again] == [r.result for r in first]
    assert all(r.replayed for r in again if r.ok)
    assert [r.timestamp for r in again if r.ok] == [r.timestamp for r in first if r.ok]


def test_a_transfers_hashed_line_is_the_canonical_one():
    """verify recomputes every batch's hash from these bytes: their form must never change."""
    from card_service.ledger.digest import transfer_bytes
    from card_service.ledger.rules import StoredTransfer

    hold = uuid.UUID("0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6071")
    post_id = uuid.UUID("0192f3c4-5d6e-7f80-9a1b-2c3d4e5f6072")
    posted = StoredTransfer(
        post_id, 7, 9, 150, hold, "fare|ñ", None, TransferFlags.POST_PENDING, 0, None, 10, -150, 300
    )
    held = StoredTransfer(
        hold, 7, 9, 200, None, "x", "", TransferFlags.PENDING, 60, 2**62, 5, 0, -(2**63)
    )
    assert (
        transfer_bytes(posted)
        == (
            "0192f3c45d6e7f809a1b2c3d4e5f6072|7|9|150|0192f3c45d6e7f809a1b2c3d4e5f6071|fare|ñ||4|0||"
            "10|-150|300\n"
        ).encode()
    )
    assert (
        transfer_bytes(held)
        == (f"0192f3c45d6e7f809a1b2c3d4e5f6071|7|9|200||x||2|60|{2**62}|5|0|{-(2**63)}\n").encode()
    )


@pytest.mark.postgres
def test_the_same_long_upload_twice_at_once_is_written_once(pg_url):
    """The second upload read the ids before the first committed, then waited for its locks: its
    COPY meets the first one's rows, and it is told concurrent_write; its retry is answered from
    what the first one stored."""
    engine = make_engine(pg_url, pool_size=2, max_overflow=0)
    sessions = make_sessionmaker(engine)
    accounts = _accounts(sessions, "twice")
    run(sessions, *[req(accounts[0], p, 5_000) for p in accounts[1:6]])
    fares = [req(accounts[1 + i % 5], accounts[6], 10) for i in range(100)]
    first = sessions()
    assert all(r.ok for r in ledger.create_transfers(first, fares))
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            with transaction(sessions) as s:
                ledger.create_transfers(s, fares)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    racer = threading.Thread(target=second)
    racer.start()
    time.sleep(0.5)  # the second has read the ids and waits for the first one's account locks
    first.commit()
    first.close()
    racer.join()
    assert isinstance(outcome[0], ConcurrentWrite)
    with transaction(sessions) as s:
        again = ledger.create_transfers(s, fares)
    assert all(r.ok and r.replayed for r in again)
    assert count_transfers(sessions) == 5 + 100
    engine.dispose()
