"""Random sequences of transfers, holds, posts, voids, expiries, linked chains and retries, run
against the real ledger (single requests through create_transfers or transfer_alone) and a
deliberately simple model of it; after every step the balances and
results agree, and at the end ``verify`` is clean."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from card_service.db import transaction
from card_service.ledger import clock
from card_service.ledger import service as ledger
from card_service.ledger.schemas import AccountFlags, TransferFlags, TransferRequest
from card_service.ledger.seal import seal
from card_service.ledger.verify import verify

PENDING, POST, VOID, LINKED = (
    TransferFlags.PENDING,
    TransferFlags.POST_PENDING,
    TransferFlags.VOID_PENDING,
    TransferFlags.LINKED,
)
S = 1_000_000_000


@dataclass
class Hold:
    dr: int
    cr: int
    amount: int
    expires_at: int | None
    state: str = "open"  # open | posted | voided | expired


class Model:
    def __init__(self, limits: dict[int, int | None]) -> None:
        self.limits = limits  # account -> floor (None: unlimited)
        self.bal = {a: [0, 0, 0, 0] for a in limits}  # dp, cp, dpe, cpe
        self.holds: dict[uuid.UUID, Hold] = {}
        self.done: dict[uuid.UUID, tuple[TransferRequest, str]] = {}

    def room(self, a: int) -> float:
        floor = self.limits[a]
        if floor is None:
            return float("inf")
        dp, cp, dpe, _ = self.bal[a]
        return cp + floor - dp - dpe

    def decide(self, r: TransferRequest, now: int) -> str:
        """The expected result, applying it to the model when it is ok."""
        if r.id in self.done:
            prev, result = self.done[r.id]
            return result if prev == r else "exists_with_different_amount"
        if r.flags & (POST | VOID):
            h = self.holds.get(r.pending_id)  # type: ignore[arg-type]
            if h is None:
                return "pending_transfer_not_found"
            if h.state != "open":
                return {
                    "posted": "pending_transfer_already_posted",
                    "voided": "pending_transfer_already_voided",
                    "expired": "pending_transfer_expired",
                }[h.state]
            if h.expires_at is not None and now >= h.expires_at:
                return "pending_transfer_expired"
            amount = h.amount if r.amount_cents is None else r.amount_cents
            if r.flags & POST and amount > h.amount:
                return "exceeds_pending_transfer_amount"
            self.bal[h.dr][2] -= h.amount
            self.bal[h.cr][3] -= h.amount
            if r.flags & POST:
                self.bal[h.dr][0] += amount
                self.bal[h.cr][1] += amount
            h.state = "posted" if r.flags & POST else "voided"
            return "ok"
        if r.amount_cents > self.room(r.debit_account_id):  # type: ignore[operator]
            return "exceeds_credits"
        i = 2 if r.flags & PENDING else 0
        self.bal[r.debit_account_id][i] += r.amount_cents  # type: ignore[operator]
        self.bal[r.credit_account_id][i + 1] += r.amount_cents  # type: ignore[operator]
        if r.flags & PENDING:
            self.holds[r.id] = Hold(
                r.debit_account_id,
                r.credit_account_id,
                r.amount_cents,  # type: ignore[arg-type]
                None,
            )
        return "ok"


class LedgerMachine(RuleBasedStateMachine):
    sessions = None  # set by the test

    def __init__(self) -> None:
        super().__init__()
        tag = uuid.uuid4().hex[:8]
        with transaction(self.sessions) as s:
            self.bank = ledger.open_account(s, code=f"bank-{tag}", kind="t").id
            self.purses = [
                ledger.open_account(
                    s,
                    code=f"p{i}-{tag}",
                    kind="t",
                    flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                    floor_cents=floor,
                ).id
                for i, floor in enumerate((0, 150))
            ]
            self.rev = ledger.open_account(s, code=f"rev-{tag}", kind="t").id
        self.model = Model(
            {self.bank: None, self.purses[0]: 0, self.purses[1]: 150, self.rev: None}
        )
        self.sent: list[tuple[TransferRequest, ...]] = []  # whole calls, as clients retry them

    def submit(self, *requests: TransferRequest, alone: bool = False) -> None:
        """One call; ``alone``: a single request through ledger.transfer_alone instead."""
        now = clock.now_ns()
        if alone:
            assert len(requests) == 1
            results = [ledger.transfer_alone(self.sessions.kw["bind"], requests[0])]
        else:
            with transaction(self.sessions) as s:
                results = ledger.create_transfers(s, list(requests))
        if len(requests) == 1:
            expected = [self.model.decide(requests[0], now)]
        else:  # a linked chain: the model applies it to a copy first
            import copy

            trial = copy.deepcopy(self.model)
            outcomes = [trial.decide(r, now) for r in requests]
            if all(o == "ok" for o in outcomes):
                self.model = trial
                expected = outcomes
            else:
                bad = next(i for i, o in enumerate(outcomes) if o != "ok")
                expected = ["linked_event_failed"] * len(requests)
                expected[bad] = outcomes[bad]
                if outcomes[bad] == "exceeds_credits":
                    self.model.done.setdefault(requests[bad].id, (requests[bad], "exceeds_credits"))
        got = [r.result.value for r in results]
        assert got == expected, (requests, got, expected)
        for r, res in zip(requests, results, strict=True):
            if res.ok:
                self.model.done.setdefault(r.id, (r, "ok"))
                if r.flags & PENDING and r.timeout_s:
                    self.model.holds[r.id].expires_at = res.timestamp + r.timeout_s * S
            elif res.result.value == "exceeds_credits" and len(requests) == 1:
                self.model.done.setdefault(r.id, (r, "exceeds_credits"))
        self.sent.append(requests)

    def account(self, data: st.DataObject) -> tuple[int, int]:
        dr = data.draw(st.sampled_from([self.bank, *self.purses]))
        cr = data.draw(st.sampled_from([a for a in (*self.purses, self.rev) if a != dr]))
        return dr, cr

    @rule(data=st.data(), amount=st.integers(1, 400), alone=st.booleans())
    def transfer(self, data: st.DataObject, amount: int, alone: bool) -> None:
        dr, cr = self.account(data)
        self.submit(TransferRequest(uuid.uuid4(), dr, cr, amount, "t"), alone=alone)

    @rule(
        data=st.data(),
        amount=st.integers(1, 300),
        timeout=st.sampled_from([0, 5]),
        alone=st.booleans(),
    )
    def hold(self, data: st.DataObject, amount: int, timeout: int, alone: bool) -> None:
        dr, cr = self.account(data)
        self.submit(
            TransferRequest(uuid.uuid4(), dr, cr, amount, "h", flags=PENDING, timeout_s=timeout),
            alone=alone,
        )

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data(), part=st.one_of(st.none(), st.integers(1, 400)), post=st.booleans())
    def resolve(self, data: st.DataObject, part: int | None, post: bool) -> None:
        # In insertion order: the ids are random, so sorting them would make choices irreproducible.
        hold_id = data.draw(st.sampled_from(list(self.model.holds)))
        flags = POST if post else VOID
        self.submit(
            TransferRequest(
                uuid.uuid4(), 0, 0, part if post else None, "r", pending_id=hold_id, flags=flags
            )
        )

    @rule()
    def time_passes_and_holds_expire(self) -> None:
        clock._last += 6 * S
        with transaction(self.sessions) as s:
            ledger.expire_holds(s, now=clock._last)
        for h in self.model.holds.values():
            if h.state == "open" and h.expires_at is not None and h.expires_at <= clock._last:
                h.state = "expired"
                self.model.bal[h.dr][2] -= h.amount
                self.model.bal[h.cr][3] -= h.amount

    @rule(data=st.data(), a=st.integers(1, 300), b=st.integers(1, 300))
    def linked_chain(self, data: st.DataObject, a: int, b: int) -> None:
        dr, cr = self.account(data)
        self.submit(
            TransferRequest(uuid.uuid4(), self.bank, dr, a, "c", flags=LINKED)
            if dr != self.bank
            else TransferRequest(uuid.uuid4(), self.bank, cr, a, "c", flags=LINKED),
            TransferRequest(uuid.uuid4(), dr, cr, b, "c"),
        )

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), alone=st.booleans())
    def retry_same_id(self, data: st.DataObject, alone: bool) -> None:
        # A retry of a call gives the same answers for decided ids and moves no money twice.
        call = data.draw(st.sampled_from(self.sent))
        self.submit(*call, alone=alone and len(call) == 1)

    @invariant()
    def balances_match(self) -> None:
        with transaction(self.sessions) as s:
            for a, want in self.model.bal.items():
                b = ledger.balance(s, a)
                assert [
                    b.debits_posted,
                    b.credits_posted,
                    b.debits_pending,
                    b.credits_pending,
                ] == want

    def teardown(self) -> None:
        with transaction(self.sessions) as s:
            seal(s)
        with transaction(self.sessions) as s:
            report = verify(s)
        assert report.ok, report.problems


@pytest.mark.slow
def test_ledger_agrees_with_a_simple_model(sessions):
    LedgerMachine.sessions = sessions
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
