"""Ledger rows are never edited: the database itself refuses, and verify notices tampering."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from card_service.append_only import drop_statements
from card_service.db import transaction
from card_service.ledger.verify import verify
from tests.ledger.helpers import PURSE, open_accounts, req, run, seal_everything


@pytest.fixture
def funded(sessions):
    bank, purse = open_accounts(sessions, ("bank", 0, None), ("purse", PURSE, None))
    run(sessions, req(bank, purse, 1000), req(purse, bank, 100))
    return bank, purse


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transfers SET amount_cents = 1",
        "DELETE FROM ledger_transfers",
        "UPDATE ledger_batches SET transfer_count = 0",
        "DELETE FROM ledger_chain",
    ],
)
def test_ledger_rows_cannot_be_updated_or_deleted(sessions, funded, statement):
    seal_everything(sessions)
    with pytest.raises(DatabaseError, match="append_only"), transaction(sessions) as s:
        s.execute(text(statement))


def test_verify_is_clean_then_names_a_wrong_cached_balance(sessions, funded):
    _, purse = funded
    seal_everything(sessions)
    with transaction(sessions) as s:
        report = verify(s)
    assert report.ok, report.problems
    assert report.checked["entries"] == 4
    with transaction(sessions) as s:
        s.execute(
            text("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = :a"),
            {"a": purse},
        )
    with transaction(sessions) as s:
        report = verify(s)
    assert not report.ok
    assert report.problems[0].startswith(f"account {purse} (purse): credits_posted cached 1001")


def test_verify_names_the_batch_whose_transfers_were_altered(sessions, funded, engine):
    seal_everything(sessions)
    # An attacker with database rights drops the trigger and edits an amount.
    with transaction(sessions) as s:
        for statement in drop_statements(engine.dialect.name, "ledger_transfers"):
            s.execute(text(statement))
        s.execute(text("UPDATE ledger_transfers SET amount_cents = 1 WHERE amount_cents = 100"))
    with transaction(sessions) as s:
        report = verify(s)
    assert any("do not match its hash" in p for p in report.problems), report.problems
