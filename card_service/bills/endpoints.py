"""Bill routes: the desk issues and reads bills; a citizen looks one up by reference and pays it
from the purse; the receipt is a PDF."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from card_service.api.auth import AppSettings, Citizen, Desk
from card_service.api.deps import DbSession
from card_service.bills import card as by_card
from card_service.bills import service
from card_service.bills.errors import ReceiptNotFound
from card_service.bills.models import Bill
from card_service.bills.receipts import online_topup_receipt_pdf, receipt_pdf
from card_service.bills.schemas import (
    BillIn,
    BillOut,
    CardPaymentIn,
    CardPaymentOut,
    PayIn,
    PaymentOut,
)
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


@router.post("/v1/me/bills/{reference}/card-payments", status_code=201)
def pay_by_card(
    reference: str, body: CardPaymentIn, session: DbSession, settings: AppSettings, me: Citizen
) -> CardPaymentOut:
    """Pay a bill by bank card: a PaymentIntent to confirm on Stripe's element, then check it.

    Nothing is settled on the page's word: ``POST .../card-payments/{id}/check`` asks Stripe."""
    _card, holder = own_card(session, me.card_id)
    started = by_card.begin(session, settings, holder, reference, body.client_id)
    return CardPaymentOut(
        reference=service.normalise(reference),
        amount_cents=started.amount_cents,
        payment_intent_id=started.payment_intent_id,
        status="pending",
        client_secret=started.client_secret,
        publishable_key=settings.stripe_publishable_key,
    )


@router.post("/v1/me/bills/{reference}/card-payments/{payment_intent_id}/check")
def check_card_payment(
    reference: str,
    payment_intent_id: str,
    session: DbSession,
    settings: AppSettings,
    me: Citizen,
) -> CardPaymentOut:
    """How a bill's bank-card payment stands, asked of Stripe; settles the bill once it is paid.

    ``status``: paid (settled now, once, with its receipt), pending, or failed and why."""
    _card, holder = own_card(session, me.card_id)
    checked = by_card.check(session, settings, me.actor, holder, reference, payment_intent_id)
    bill = checked.bill
    return CardPaymentOut(
        reference=bill.reference,
        amount_cents=bill.amount_cents,
        payment_intent_id=payment_intent_id,
        status=checked.status,
        receipt=bill.receipt if checked.status == "paid" else None,
        failure=checked.failure,
    )


@router.get("/v1/me/receipts/topups/{topup_id}.pdf")
def topup_receipt(topup_id: uuid.UUID, session: DbSession, me: Citizen) -> Response:
    """The receipt of one's bank-card top-up, once Stripe confirmed it and the purse has it."""
    from card_service.payments.models import TopUp

    card, holder = own_card(session, me.card_id)
    topup = session.get(TopUp, topup_id)
    if topup is None or topup.holder_id != holder.id or topup.status != "succeeded":
        raise ReceiptNotFound("no credited top-up of yours has this id")
    return Response(
        online_topup_receipt_pdf(topup, card.number),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="topup-{topup_id}.pdf"'},
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
