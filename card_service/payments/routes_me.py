"""Self-service payments (/v1/me): top up online, see payments, refunds, auto top-up."""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from card_service.api.auth import AppSettings, Citizen
from card_service.api.deps import DbSession
from card_service.me.service import own_card
from card_service.payments import auto_topup, refunds, topups
from card_service.payments.cash_receipts import cash_receipt_pdf
from card_service.payments.errors import AutoTopUpNotSet, TopUpNotFound
from card_service.payments.models import AutoTopUp, KioskCashTopUp, TopUp
from card_service.payments.overview import overview
from card_service.payments.router import router
from card_service.payments.schemas import (
    AutoTopUpIn,
    AutoTopUpOut,
    PaymentsOverview,
    RefundIn,
    RefundOut,
    SetupOut,
    TopUpIn,
    TopUpOut,
)


@router.post("/v1/me/topups", status_code=201)
def start_topup(body: TopUpIn, request: Request, settings: AppSettings, me: Citizen) -> TopUpOut:
    """Top up online: pay the answer's PaymentIntent with Stripe's payment element."""
    topup, secret = topups.begin_online(
        request.app.state.sessionmaker, settings, me.card_id, body.request_id, body.amount_cents
    )
    return TopUpOut.of(topup, secret, settings.stripe_publishable_key)


@router.get("/v1/me/topups")
def my_topups(session: DbSession, me: Citizen) -> list[TopUpOut]:
    """One's top-ups, newest first."""
    _card, holder = own_card(session, me.card_id)
    return [TopUpOut.of(t) for t in topups.of_holder(session, holder.id)]


@router.get("/v1/me/topups/{topup_id}")
def my_topup(topup_id: uuid.UUID, session: DbSession, me: Citizen) -> TopUpOut:
    """One top-up: succeeded (spendable now), pending, or failed and why."""
    _card, holder = own_card(session, me.card_id)
    topup = session.get(TopUp, topup_id)
    if topup is None or topup.holder_id != holder.id:
        raise TopUpNotFound("no top-up of yours has this id")
    return TopUpOut.of(topup)


@router.get("/v1/me/cash-topups/{topup_id}.pdf")
def my_cash_receipt(topup_id: uuid.UUID, session: DbSession, me: Citizen) -> Response:
    """The receipt of cash one paid in at a kiosk, as a PDF."""
    card, holder = own_card(session, me.card_id)
    row = session.get(KioskCashTopUp, topup_id)
    if row is None or row.holder_id != holder.id:
        raise TopUpNotFound("no cash top-up of yours has this id")
    pdf = cash_receipt_pdf(row, card.number)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="topup-{topup_id}.pdf"'},
    )


@router.get("/v1/me/payments")
def my_payments(session: DbSession, me: Citizen) -> PaymentsOverview:
    """Balance (below zero while a chargeback is owed), top-ups, refunds, auto top-up, notices."""
    _card, holder = own_card(session, me.card_id)
    return overview(session, holder)


@router.post("/v1/me/refunds", status_code=201)
def refund_me(
    body: RefundIn, request: Request, settings: AppSettings, me: Citizen
) -> list[RefundOut]:
    """Refund unused balance to the original payments, newest first (amount omitted: all)."""
    factory = request.app.state.sessionmaker
    with factory() as s:
        _card, holder = own_card(s, me.card_id)
    rows = refunds.request(
        factory, settings, me.actor, holder.id, body.request_id, body.amount_cents, "holder"
    )
    return [RefundOut.of(r) for r in rows]


@router.post("/v1/me/auto-topup/setup")
def setup_auto_topup(request: Request, settings: AppSettings, me: Citizen) -> SetupOut:
    """Step 1: a SetupIntent to confirm with the card on Stripe's element."""
    out = auto_topup.start_setup(request.app.state.sessionmaker, settings, me.card_id)
    return SetupOut(**out)


@router.put("/v1/me/auto-topup")
def save_auto_topup(
    body: AutoTopUpIn, request: Request, settings: AppSettings, me: Citizen
) -> AutoTopUpOut:
    """Step 2: keep the confirmed card; below the threshold, the amount is paid automatically."""
    auto = auto_topup.save(
        request.app.state.sessionmaker,
        settings,
        me.actor,
        me.card_id,
        body.setup_intent_id,
        body.threshold_cents,
        body.amount_cents,
    )
    return AutoTopUpOut.of(auto)


@router.get("/v1/me/auto-topup")
def my_auto_topup(session: DbSession, me: Citizen) -> AutoTopUpOut:
    """Auto top-up as set, or switched off and why."""
    _card, holder = own_card(session, me.card_id)
    auto = session.get(AutoTopUp, holder.id)
    if auto is None or auto.payment_method_id is None:
        raise AutoTopUpNotSet("auto top-up was never set up")
    return AutoTopUpOut.of(auto)


@router.delete("/v1/me/auto-topup")
def stop_auto_topup(session: DbSession, me: Citizen) -> AutoTopUpOut:
    """Switch auto top-up off (the saved card stays with Stripe until set up again)."""
    _card, holder = own_card(session, me.card_id)
    return AutoTopUpOut.of(auto_topup.disable(session, me.actor, holder))
