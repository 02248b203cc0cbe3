"""Bills and fines: issue, look up by reference, pay once (from the purse, or by bank card).

A purse payment is one ledger transfer, purse -> the bills revenue account, whose id is derived
from the bill and the client's id: a retry with the same client id replays the same transfer and
answers the same receipt; another client id on a paid bill is ``bill_already_paid``. The bill row
is locked while it is paid, so two kiosks paying one bill at once charge once.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.bills.errors import (
    BillAlreadyPaid,
    BillCancelled,
    BillNotFound,
    InsufficientBalance,
)
from card_service.bills.models import Bill
from card_service.cards.purse import spendable_online
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.ledger.results import AccountCodeTaken, Result, TransferRejected, UnknownAccount
from card_service.ledger.schemas import TransferRequest
from card_service.staff.roles import utcnow

REVENUE_CODE = "revenue:bills"
TRANSFER_CODE = "bill"
_NAMESPACE = uuid.UUID("6f1d3c52-5b7e-4c1e-9b59-2f0a4c1b7e01")
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed at a kiosk


@dataclass(frozen=True)
class Payment:
    bill: Bill
    replayed: bool


def new_reference(kind: str) -> str:
    """``REC-2026-7KQ4XM`` for a bill, ``MUL-...`` for a fine (multa)."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    return f"{'MUL' if kind == 'fine' else 'REC'}-{date.today().year}-{body}"


def normalise(reference: str) -> str:
    return "".join(reference.split()).upper()


def revenue_account(session: Session) -> int:
    try:
        return ledger.find_account(session, REVENUE_CODE).id
    except UnknownAccount:
        pass
    try:
        return ledger.open_account(session, code=REVENUE_CODE, kind="service_revenue").id
    except AccountCodeTaken:  # opened by a concurrent first payment
        return ledger.find_account(session, REVENUE_CODE).id


def issue(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    issuer: str,
    concept: str,
    amount_cents: int,
    due_date: date,
    reference: str | None = None,
) -> Bill:
    bill = Bill(
        reference=normalise(reference) if reference else new_reference(kind),
        kind=kind,
        issuer=issuer,
        concept=concept,
        amount_cents=amount_cents,
        due_date=due_date,
        status="open",
        created_at=utcnow(),
    )
    session.add(bill)
    session.flush()
    audit.record(session, actor, f"{kind}.issue", f"bill:{bill.reference}")
    return bill


def get(session: Session, reference: str, *, lock: bool = False) -> Bill:
    stmt = select(Bill).where(Bill.reference == normalise(reference))
    bill = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if bill is None:
        raise BillNotFound(f"no bill or fine has the reference {normalise(reference)}")
    return bill


def transfer_id(bill: Bill, client_id: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"bill:{bill.id}:{client_id}")


def _payable(bill: Bill, holder_id: int | None, client_id: str) -> bool:
    """False when this very payment happened already (a replay); raises when it cannot happen."""
    if bill.status == "paid":
        if bill.client_id == client_id and bill.paid_by == holder_id:
            return False
        raise BillAlreadyPaid(f"the bill {bill.reference} is paid already")
    if bill.status == "cancelled":
        raise BillCancelled(f"the bill {bill.reference} was cancelled")
    return True


def check_open(bill: Bill) -> None:
    if bill.status == "cancelled":
        raise BillCancelled(f"the bill {bill.reference} was cancelled")


def _settle(bill: Bill, holder_id: int | None, method: str, client_id: str, tid: uuid.UUID) -> None:
    bill.status, bill.paid_at, bill.paid_by = "paid", utcnow(), holder_id
    bill.method, bill.client_id, bill.transfer_id = method, client_id, tid
    bill.receipt = "R-" + tid.hex[:12].upper()


def pay_from_purse(
    session: Session, actor: Actor, holder: Holder, reference: str, client_id: str
) -> Payment:
    bill = get(session, reference, lock=True)
    if not _payable(bill, holder.id, client_id):
        return Payment(bill, replayed=True)
    if holder.purse_account_id is None:
        raise InsufficientBalance("this holder has no purse")
    if spendable_online(session, holder.purse_account_id) < bill.amount_cents:
        raise InsufficientBalance(
            f"the purse holds less than {bill.amount_cents} cents: nothing was charged"
        )
    tid = transfer_id(bill, client_id)
    request = TransferRequest(
        id=tid,
        debit_account_id=holder.purse_account_id,
        credit_account_id=revenue_account(session),
        amount_cents=bill.amount_cents,
        code=TRANSFER_CODE,
        user_data=json.dumps({"reference": bill.reference}, separators=(",", ":")),
    )
    try:
        ledger.create_transfer(session, request)
    except TransferRejected as exc:
        if exc.result is Result.EXCEEDS_CREDITS:
            raise InsufficientBalance(
                f"the purse holds less than {bill.amount_cents} cents: nothing was charged"
            ) from exc
        raise
    _settle(bill, holder.id, "purse", client_id, tid)
    session.flush()
    audit.record(session, actor, f"{bill.kind}.pay", f"bill:{bill.reference}", reason="purse")
    return Payment(bill, replayed=False)


def pay_by_card(
    session: Session,
    actor: Actor,
    reference: str,
    *,
    clearing_account_id: int,
    payment_id: str,
    holder_id: int | None = None,
    charge_id: str | None = None,
) -> Payment:
    """A bank-card payment Stripe confirmed settles the bill (``bills.card``: the kiosk's check,
    or payments' webhook).

    ``clearing_account_id`` is the card-clearing account the payment arrived in; ``payment_id``
    (the provider's payment id) is the client id, so a repeated confirmation replays. The
    transfer's ``user_data`` is the charge (else the payment) id: what reconciliation matches
    against Stripe's balance transactions."""
    bill = get(session, reference, lock=True)
    if not _payable(bill, holder_id, payment_id):
        return Payment(bill, replayed=True)
    tid = transfer_id(bill, payment_id)
    ledger.create_transfer(
        session,
        TransferRequest(
            id=tid,
            debit_account_id=clearing_account_id,
            credit_account_id=revenue_account(session),
            amount_cents=bill.amount_cents,
            code=TRANSFER_CODE,
            user_data=charge_id or payment_id,
        ),
    )
    _settle(bill, holder_id, "card", payment_id, tid)
    session.flush()
    audit.record(session, actor, f"{bill.kind}.pay", f"bill:{bill.reference}", reason="card")
    return Payment(bill, replayed=False)


def receipt_of(session: Session, holder_id: int, receipt: str) -> Bill | None:
    return session.scalars(
        select(Bill).where(Bill.receipt == receipt, Bill.paid_by == holder_id)
    ).one_or_none()
