"""Small helpers for ledger tests: open accounts, make requests, read balances."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from card_service.db import transaction
from card_service.ledger import service as ledger
from card_service.ledger.schemas import AccountFlags, TransferFlags, TransferRequest

PURSE = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


def open_accounts(
    sessions: sessionmaker[Session], *specs: tuple[str, AccountFlags, int | None]
) -> list[int]:
    with transaction(sessions) as s:
        return [
            ledger.open_account(s, code=code, kind="test", flags=flags, floor_cents=floor).id
            for code, flags, floor in specs
        ]


def req(
    dr: int,
    cr: int,
    amount: int | None,
    *,
    id: uuid.UUID | None = None,
    flags: int = 0,
    pending_id: uuid.UUID | None = None,
    timeout_s: int = 0,
    code: str = "test",
) -> TransferRequest:
    return TransferRequest(
        id=id or uuid.uuid4(),
        debit_account_id=dr,
        credit_account_id=cr,
        amount_cents=amount,
        code=code,
        pending_id=pending_id,
        flags=flags,
        timeout_s=timeout_s,
    )


def post(pending: uuid.UUID, amount: int | None = None, **kw: object) -> TransferRequest:
    return req(0, 0, amount, flags=TransferFlags.POST_PENDING, pending_id=pending, **kw)  # type: ignore[arg-type]


def void(pending: uuid.UUID, **kw: object) -> TransferRequest:
    return req(0, 0, None, flags=TransferFlags.VOID_PENDING, pending_id=pending, **kw)  # type: ignore[arg-type]


def run(sessions: sessionmaker[Session], *requests: TransferRequest) -> list[str]:
    with transaction(sessions) as s:
        return [r.result.value for r in ledger.create_transfers(s, list(requests))]


def balances(sessions: sessionmaker[Session], account_id: int) -> tuple[int, int, int, int]:
    with transaction(sessions) as s:
        b = ledger.balance(s, account_id)
        return (b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending)


def count_transfers(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as s:
        return int(s.execute(text("SELECT COUNT(*) FROM ledger_transfers")).scalar_one())


def seal_everything(sessions: sessionmaker[Session], within_s: float = 30.0) -> None:
    """Seal until every committed batch is chained.

    On PostgreSQL a batch is chained once every older transaction of the whole server has ended
    (docs/decisions/0002); other test workers' transactions can hold that back for a moment.
    """
    import time

    from card_service.ledger.seal import seal

    deadline = time.monotonic() + within_s
    while True:
        with transaction(sessions) as s:
            seal(s)
            left = s.execute(
                text(
                    "SELECT COUNT(*) FROM ledger_batches b "
                    "LEFT JOIN ledger_chain c ON c.batch_id = b.id WHERE c.batch_id IS NULL"
                )
            ).scalar_one()
        if not left:
            return
        assert time.monotonic() < deadline, f"{left} batches still not chained"
        time.sleep(0.05)


def assert_verifies(sessions: sessionmaker[Session]) -> None:
    """Chain what is committed, then ``ledger verify``'s checks pass."""
    from card_service.ledger.seal import seal
    from card_service.ledger.verify import verify

    with transaction(sessions) as s:
        seal(s)
    with transaction(sessions) as s:
        report = verify(s)
    assert report.ok, report.problems
