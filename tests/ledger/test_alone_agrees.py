"""On PostgreSQL a plain transfer alone is first tried by one SQL statement (ledger/alone.py).
Whatever the accounts hold, its answer must be the one the ledger's rules give: the same result,
the same balances after, and a refusal named and kept as on every other path."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.ledger import rules
from card_service.ledger import service as ledger
from card_service.ledger.results import STICKY_FAILURES, Result
from card_service.ledger.schemas import AccountFlags, TransferFlags
from card_service.ledger.verify import verify
from tests.ledger.helpers import balances, req, seal_everything

FLAGS = st.sampled_from(
    [
        AccountFlags.NONE,
        AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
        AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
    ]
)
CENTS = st.integers(min_value=0, max_value=400)


def _expected(sessions, debit: int, credit: int, amount: int) -> tuple[str, int, int]:
    """What the rules say, from the accounts as they are: result, and both balances after."""
    with transaction(sessions) as s:
        found = [ledger.balance(s, a) for a in (debit, credit)]
    accounts = {
        b.id: rules.AccountState(
            b.id, b.currency, b.flags, b.floor_cents, b.debits_posted, b.credits_posted,
            b.debits_pending, b.credits_pending, 0,
        )
        for b in found
    }  # fmt: skip
    state = rules.BatchState(accounts, {}, {}, {})
    out = rules.apply([req(debit, credit, amount)], state, 1)
    dr, cr = accounts[debit], accounts[credit]
    return out.results[0].result.value, dr.cp - dr.dp, cr.cp - cr.dp


@pytest.mark.postgres
def test_the_one_statement_answers_as_the_rules_do(pg_url):
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as s:
        bank = ledger.open_account(s, code="bank", kind="test").id

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        flags=st.tuples(FLAGS, FLAGS),
        floors=st.tuples(st.none() | CENTS, st.none() | CENTS),
        funded=st.tuples(CENTS, CENTS),
        held=st.tuples(CENTS, CENTS),
        usd=st.booleans(),
        amount=st.integers(min_value=1, max_value=900),
    )
    def check(flags, floors, funded, held, usd, amount):
        with transaction(sessions) as s:
            debit, credit = (
                ledger.open_account(
                    s,
                    code=f"acct:{uuid.uuid4().hex}",
                    kind="test",
                    flags=flags[i],
                    floor_cents=floors[i],
                    currency="USD" if usd and i else "EUR",
                ).id
                for i in (0, 1)
            )
        # Fund both, and hold some of each: what the rules refuse here is simply not there.
        for account, cents, hold in ((debit, funded[0], held[0]), (credit, funded[1], held[1])):
            if cents:
                ledger.transfer_alone(engine, req(bank, account, cents))
            if hold:
                ledger.transfer_alone(
                    engine, req(account, bank, hold, flags=TransferFlags.PENDING, timeout_s=600)
                )
                ledger.transfer_alone(
                    engine, req(bank, account, hold, flags=TransferFlags.PENDING, timeout_s=600)
                )
        result, debit_after, credit_after = _expected(sessions, debit, credit, amount)
        sent = req(debit, credit, amount)
        got = ledger.transfer_alone(engine, sent)
        assert got.result.value == result
        assert balances(sessions, debit)[1] - balances(sessions, debit)[0] == debit_after
        assert balances(sessions, credit)[1] - balances(sessions, credit)[0] == credit_after
        again = ledger.transfer_alone(engine, sent)  # a retry: the same answer
        kept = result == "ok" or Result(result) in STICKY_FAILURES  # read back, not decided again
        assert (again.result.value, again.replayed) == (result, kept)

    check()
    seal_everything(sessions)
    with transaction(sessions) as s:
        assert verify(s).ok
    engine.dispose()
