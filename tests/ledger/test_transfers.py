"""What finance staff and every other domain rely on: money moves exactly as asked, or not at all."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from card_service.db import transaction
from card_service.ledger import service as ledger
from card_service.ledger.ids import time_ordered_id
from card_service.ledger.results import MalformedTransfer, TransferRejected
from card_service.ledger.schemas import AccountFlags, TransferFlags, TransferRequest
from tests.ledger.helpers import (
    PURSE,
    balances,
    count_transfers,
    open_accounts,
    post,
    req,
    run,
    void,
)

NONE = AccountFlags.NONE


@pytest.fixture
def accts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """A funding account, a purse that may go 200 cents below zero, and a revenue account."""
    return tuple(  # type: ignore[return-value]
        open_accounts(sessions, ("bank", NONE, None), ("purse", PURSE, 200), ("bus", NONE, None))
    )


def test_a_transfer_moves_money_and_both_sides_see_it(sessions, accts):
    bank, purse, bus = accts
    assert run(sessions, req(bank, purse, 1000), req(purse, bus, 150)) == ["ok", "ok"]
    assert balances(sessions, purse) == (150, 1000, 0, 0)
    assert balances(sessions, bus) == (0, 150, 0, 0)
    assert balances(sessions, bank) == (1000, 0, 0, 0)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda b, p, r: req(b, p, 0), "amount_must_be_positive"),
        (lambda b, p, r: req(b, p, -5), "amount_must_be_positive"),
        (lambda b, p, r: req(b, 999_999, 5), "account_not_found"),
        (lambda b, p, r: req(p, p, 5), "accounts_must_be_different"),
        (lambda b, p, r: req(p, r, 1201), "exceeds_credits"),
        (lambda b, p, r: req(b, p, 5, id=uuid.UUID(int=0)), "id_must_not_be_zero"),
        (lambda b, p, r: req(b, p, 5, code=""), "code_must_not_be_empty"),
        (lambda b, p, r: req(b, p, 5, timeout_s=10), "timeout_reserved_for_pending_transfer"),
        (
            lambda b, p, r: req(b, p, 5, flags=TransferFlags.PENDING | TransferFlags.POST_PENDING),
            "flags_are_mutually_exclusive",
        ),
        (lambda b, p, r: post(uuid.uuid4()), "pending_transfer_not_found"),
        (lambda b, p, r: req(b, p, 5, flags=TransferFlags.POST_PENDING), "pending_id_required"),
    ],
)
def test_bad_input_gets_a_named_result_and_writes_nothing(sessions, accts, make, expected):
    bank, purse, bus = accts
    run(sessions, req(bank, purse, 1000))
    before = [balances(sessions, a) for a in accts]
    assert run(sessions, make(bank, purse, bus)) == [expected]
    assert [balances(sessions, a) for a in accts] == before
    assert count_transfers(sessions) == 1


def test_currency_mismatch_is_refused(sessions):
    with transaction(sessions) as s:
        eur = ledger.open_account(s, code="eur", kind="test").id
        usd = ledger.open_account(s, code="usd", kind="test", currency="USD").id
    assert run(sessions, req(eur, usd, 5)) == ["accounts_must_have_the_same_currency"]


def test_a_purse_may_go_down_to_its_floor_and_no_further(sessions, accts):
    bank, purse, bus = accts
    run(sessions, req(bank, purse, 100))
    assert run(sessions, req(purse, bus, 300)) == ["ok"]  # 100 - 300 = -200, the floor
    assert run(sessions, req(purse, bus, 1)) == ["exceeds_credits"]
    with transaction(sessions) as s:
        assert ledger.balance(s, purse).balance_cents == -200
        assert ledger.balance(s, purse).available_cents == 0


def test_malformed_ids_and_amounts_are_refused_before_the_ledger(accts):
    with pytest.raises(MalformedTransfer):
        TransferRequest.parse(
            {
                "id": "not-a-uuid",
                "debit_account_id": 1,
                "credit_account_id": 2,
                "amount_cents": 5,
                "code": "x",
            }
        )
    with pytest.raises(MalformedTransfer):
        TransferRequest.parse(
            {
                "id": str(uuid.uuid4()),
                "debit_account_id": 1,
                "credit_account_id": 2,
                "amount_cents": 1.5,
                "code": "x",
            }
        )


def test_same_id_same_content_returns_the_original_and_writes_once(sessions, accts):
    bank, purse, _ = accts
    first = req(bank, purse, 700)
    with transaction(sessions) as s:
        original = ledger.create_transfers(s, [first])[0]
    with transaction(sessions) as s:
        again = ledger.create_transfers(s, [first])[0]
    assert again.ok and again.replayed and again.timestamp == original.timestamp
    assert balances(sessions, purse) == (0, 700, 0, 0)
    assert count_transfers(sessions) == 1


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("amount_cents", 701, "exists_with_different_amount"),
        ("code", "other", "exists_with_different_code"),
        ("user_data", "ref", "exists_with_different_user_data"),
        ("credit_account_id", None, "exists_with_different_credit_account_id"),
    ],
)
def test_same_id_other_content_is_a_named_result(sessions, accts, field, value, expected):
    bank, purse, bus = accts
    first = req(bank, purse, 700)
    run(sessions, first)
    changed = {**{f: getattr(first, f) for f in first.__slots__}, field: value or bus}  # type: ignore[attr-defined]
    assert run(sessions, TransferRequest(**changed)) == [expected]
    assert balances(sessions, purse) == (0, 700, 0, 0)


def test_a_failure_on_funds_stays_failed_when_retried_after_a_top_up(sessions, accts):
    bank, purse, bus = accts
    fare = req(purse, bus, 2000)  # 0 + floor 200 < 2000
    assert run(sessions, fare) == ["exceeds_credits"]
    run(sessions, req(bank, purse, 5000))
    assert run(sessions, fare) == ["exceeds_credits"]
    assert balances(sessions, bus) == (0, 0, 0, 0)


def test_holds_count_against_the_available_balance_then_post_in_part(sessions, accts):
    bank, purse, bus = accts
    run(sessions, req(bank, purse, 1000))
    hold = req(purse, bus, 1000, flags=TransferFlags.PENDING, timeout_s=60)
    assert run(sessions, hold) == ["ok"]
    assert run(sessions, req(purse, bus, 201)) == ["exceeds_credits"]  # 1000 held, floor 200
    assert balances(sessions, purse) == (0, 1000, 1000, 0)
    assert run(sessions, post(hold.id, 400)) == ["ok"]
    assert balances(sessions, purse) == (400, 1000, 0, 0)
    assert balances(sessions, bus) == (0, 400, 0, 0)
    assert run(sessions, post(hold.id)) == ["pending_transfer_already_posted"]
    assert run(sessions, void(hold.id)) == ["pending_transfer_already_posted"]


def test_a_hold_cannot_be_posted_for_more_than_it_holds(sessions, accts):
    bank, purse, bus = accts
    run(sessions, req(bank, purse, 1000))
    hold = req(purse, bus, 300, flags=TransferFlags.PENDING)
    run(sessions, hold)
    assert run(sessions, post(hold.id, 301)) == ["exceeds_pending_transfer_amount"]


def test_a_voided_hold_releases_the_money_and_cannot_be_posted(sessions, accts):
    bank, purse, bus = accts
    run(sessions, req(bank, purse, 1000))
    hold = req(purse, bus, 600, flags=TransferFlags.PENDING)
    run(sessions, hold)
    assert run(sessions, void(hold.id)) == ["ok"]
    assert balances(sessions, purse) == (0, 1000, 0, 0)
    assert run(sessions, post(hold.id)) == ["pending_transfer_already_voided"]


def test_an_expired_hold_can_be_neither_posted_nor_voided_and_is_released(sessions, accts):
    bank, purse, bus = accts
    run(sessions, req(bank, purse, 1000))
    hold = req(purse, bus, 600, flags=TransferFlags.PENDING, timeout_s=1)
    run(sessions, hold)
    with transaction(sessions) as s:
        expires = ledger.history(s, purse, limit=1)[0].timestamp + 1_000_000_000
    from card_service.ledger import clock

    clock._last = expires  # the ledger's clock is now past the timeout
    assert run(sessions, post(hold.id)) == ["pending_transfer_expired"]
    assert run(sessions, void(hold.id)) == ["pending_transfer_expired"]
    with transaction(sessions) as s:
        assert ledger.expire_holds(s, now=expires) == 1
    with transaction(sessions) as s:
        assert ledger.expire_holds(s, now=expires) == 0
    assert balances(sessions, purse) == (0, 1000, 0, 0)
    assert run(sessions, post(hold.id)) == ["pending_transfer_expired"]


def test_a_linked_chain_is_all_or_nothing(sessions, accts):
    bank, purse, bus = accts
    run(sessions, req(bank, purse, 100))
    linked = TransferFlags.LINKED
    results = run(
        sessions,
        req(bank, purse, 500, flags=linked),
        req(purse, bus, 400, flags=linked),
        req(purse, bus, 9999),  # fails: the whole chain fails
        req(bank, purse, 1),  # independent: succeeds
    )
    assert results == ["linked_event_failed", "linked_event_failed", "exceeds_credits", "ok"]
    assert balances(sessions, purse) == (0, 101, 0, 0)
    assert balances(sessions, bus) == (0, 0, 0, 0)


def test_a_chain_left_open_fails_whole(sessions, accts):
    bank, purse, _ = accts
    results = run(sessions, req(bank, purse, 5), req(bank, purse, 5, flags=TransferFlags.LINKED))
    assert results == ["ok", "linked_event_chain_open"]
    assert balances(sessions, purse) == (0, 5, 0, 0)


def test_create_transfer_raises_the_named_result(sessions, accts):
    _, purse, bus = accts
    with transaction(sessions) as s, pytest.raises(TransferRejected) as err:
        ledger.create_transfer(s, req(purse, bus, 10_000))
    assert err.value.code == "exceeds_credits"


def test_history_gives_the_balance_after_each_entry(sessions, accts):
    bank, purse, bus = accts
    run(sessions, req(bank, purse, 1000), req(purse, bus, 150), req(purse, bus, 200))
    with transaction(sessions) as s:
        entries = ledger.history(s, purse)
    assert [e.balance_after_cents for e in entries] == [650, 850, 1000]
    assert [(e.is_debit, e.posted_delta, e.other_account_id) for e in entries] == [
        (True, 200, bus),
        (True, 150, bus),
        (False, 1000, bank),
    ]
    first_ts = entries[-1].timestamp
    with transaction(sessions) as s:
        window = ledger.history(s, purse, from_ts=first_ts + 1, to_ts=entries[0].timestamp)
    assert [e.posted_delta for e in window] == [150]


def test_open_accounts_opens_all_in_order_or_none(sessions):
    from card_service.ledger.results import AccountCodeTaken
    from card_service.ledger.schemas import AccountSpec

    with transaction(sessions) as s:
        ids = ledger.open_accounts(
            s, [AccountSpec(f"purse:{i}", "purse", PURSE, 0) for i in range(3)]
        )
        assert [ledger.get_account(s, i).code for i in ids] == ["purse:0", "purse:1", "purse:2"]
    with pytest.raises(AccountCodeTaken), transaction(sessions) as s:
        ledger.open_accounts(
            s, [AccountSpec("purse:new", "purse"), AccountSpec("purse:1", "purse")]
        )
    with transaction(sessions) as s, pytest.raises(Exception, match="purse:new"):
        ledger.find_account(s, "purse:new")


def test_a_batch_of_many_refused_fares_records_every_refusal(sessions, accts):
    """A bus that uploads a hundred fares from an empty purse: each is refused, and each refusal
    is remembered, so the same upload retried cannot turn any of them into a charge."""
    bank, purse, bus = accts
    fares = [req(purse, bus, 500) for _ in range(100)]  # floor 200: none fits
    assert run(sessions, req(bank, purse, 1), *fares) == ["ok"] + ["exceeds_credits"] * 100
    run(sessions, req(bank, purse, 100_000))
    assert run(sessions, *fares) == ["exceeds_credits"] * 100
    assert balances(sessions, bus) == (0, 0, 0, 0)


@pytest.mark.parametrize("size", [1, 70])  # one statement for small batches; COPY for long ones
def test_codes_and_user_data_come_back_exactly_as_written(sessions, accts, size):
    bank, purse, _bus = accts
    odd = ['a "quoted", {braced} \\ back\\slash', "NULL", "", "ñandú €", None]
    requests = [
        TransferRequest(
            id=uuid.uuid4(),
            debit_account_id=bank,
            credit_account_id=purse,
            amount_cents=1,
            code=f'c"{i},{{}}\\',
            user_data=odd[i % len(odd)],
        )
        for i in range(size)
    ]
    failing = TransferRequest(  # a refused one is remembered with its text too
        id=uuid.uuid4(),
        debit_account_id=purse,
        credit_account_id=bank,
        amount_cents=10**9,
        code='no "money"',
        user_data="{x}",
    )
    assert run(sessions, *requests, failing)[-1] == "exceeds_credits"
    with transaction(sessions) as s:
        stored = dict(map(tuple, s.execute(text("SELECT code, user_data FROM ledger_transfers"))))
        refused = s.execute(text("SELECT code, user_data FROM ledger_failed_transfers")).one()
    assert stored == {r.code: r.user_data for r in requests}
    assert tuple(refused) == ('no "money"', "{x}")
    assert run(sessions, *requests, failing) == ["ok"] * size + ["exceeds_credits"]


def test_a_batch_that_names_its_own_transfers_again_gets_the_same_answers(sessions, accts):
    """An id repeated within one call is a replay of the first; a post naming a plain transfer of
    the same call finds it, and is told it is not a hold. Money moves once."""
    bank, purse, bus = accts
    fare = req(purse, bus, 100)
    other = req(purse, bus, 999, id=fare.id)
    assert run(sessions, req(bank, purse, 500), fare, fare, other) == [
        "ok",
        "ok",
        "ok",
        "exists_with_different_amount",
    ]
    second = req(purse, bus, 50)
    assert run(sessions, second, post(second.id)) == ["ok", "pending_transfer_not_pending"]
    assert balances(sessions, bus) == (0, 150, 0, 0)
    assert count_transfers(sessions) == 3


def test_retries_among_fresh_time_ordered_ids_get_their_stored_answers(sessions, accts):
    """Terminals name transfers by time-ordered ids; an upload mixes new ones with retries of
    older ones (a transfer and a refusal), which must come back as first answered."""
    bank, purse, bus = accts
    topup = req(bank, purse, 300, id=time_ordered_id())
    fare = req(purse, bus, 100, id=time_ordered_id())
    refused = req(purse, bus, 10_000, id=time_ordered_id())
    assert run(sessions, topup, fare, refused) == ["ok", "ok", "exceeds_credits"]
    newer = [req(purse, bus, 5, id=time_ordered_id()) for _ in range(3)]
    changed = req(purse, bus, 101, id=fare.id)
    assert run(sessions, newer[0], fare, refused, newer[1], changed, newer[2]) == [
        "ok",
        "ok",
        "exceeds_credits",
        "ok",
        "exists_with_different_amount",
        "ok",
    ]
    assert balances(sessions, bus) == (0, 115, 0, 0)
    assert count_transfers(sessions) == 5
