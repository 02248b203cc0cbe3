"""Bill routes: the desk issues and reads bills; a citizen looks one up by reference and pays it
from the purse; the receipt is a PDF."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from card_service.api.auth import Citizen, Desk
from card_service.api.deps import DbSession
from card_service.bills import service
from card_service.bills.errors import ReceiptNotFound
from card_service.bills.models import Bill
from card_service.bills.receipts import receipt_pdf
from card_service.bills.schemas import BillIn, BillOut, PayIn, PaymentOut
from card_service.certificates.endpoints import router as certificates_router
from card_service.me.service import own_card

router = APIRouter(tags=["bills"])
router.include_router(certificates_router)


def _out(bill: Bill) -> BillOut:
    return BillOut(
        reference=bill.reference,
        kind=bill.kind,
        issuer=bill.issuer,
        concept=bill.concept,
        amount_cents=bill.amount_cents,
        due_date=bill.due_date,
        status=bill.status,
    )


@router.post("/v1/bills", status_code=201)
def issue(body: BillIn, session: DbSession, who: Desk) -> BillOut:
    """Issue a municipal bill or fine (the reference is made unless given)."""
    bill = service.issue(
        session,
        who.actor,
        kind=body.kind,
        issuer=body.issuer,
        concept=body.concept,
        amount_cents=body.amount_cents,
        due_date=body.due_date,
        reference=body.reference,
    )
    return _out(bill)


@router.get("/v1/bills/{reference}")
def read(reference: str, session: DbSession, who: Desk) -> BillOut:
    return _out(service.get(session, reference))


@router.get("/v1/me/bills/{reference}")
def look_up(reference: str, session: DbSession, me: Citizen) -> BillOut:
    """Look a bill or fine up by its reference (to pay it)."""
    return _out(service.get(session, reference))


@router.post("/v1/me/bills/{reference}/pay")
def pay(reference: str, body: PayIn, session: DbSession, me: Citizen) -> PaymentOut:
    """Pay a bill from one's purse; the same client id again replays the same payment."""
    _card, holder = own_card(session, me.card_id)
    paid = service.pay_from_purse(session, me.actor, holder, reference, body.client_id)
    bill = paid.bill
    assert bill.receipt is not None and bill.paid_at is not None
    return PaymentOut(
        reference=bill.reference,
        amount_cents=bill.amount_cents,
        receipt=bill.receipt,
        paid_at=bill.paid_at,
        transfer_id=str(bill.transfer_id),
        replayed=paid.replayed,
    )


@router.get("/v1/me/receipts/{receipt}.pdf")
def receipt(receipt: str, session: DbSession, me: Citizen) -> Response:
    """The receipt of one of one's payments, as a PDF."""
    card, holder = own_card(session, me.card_id)
    bill = service.receipt_of(session, holder.id, receipt)
    if bill is None:
        raise ReceiptNotFound("no receipt of yours has this number")
    return Response(
        receipt_pdf(bill, card.number),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{receipt}.pdf"'},
    )
