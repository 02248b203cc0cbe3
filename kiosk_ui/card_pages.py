"""The kiosk's bank-card screens: a top-up or a bill paid on Stripe's element.

The page confirms the PaymentIntent with Stripe.js and then reports back; the runtime asks
card_service whether money moved (terminals.kiosk.card_payments). What the citizen sees after
is what card_service says: done with a receipt, not made, or not confirmed yet.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from kiosk_ui.bills_pages import BILL_ERRORS, clean_reference
from kiosk_ui.i18n import money, t
from kiosk_ui.nav import gone_to, see_other, unless_signed_in
from kiosk_ui.render import lang_of

UNAVAILABLE = {"payments_not_configured", "stripe_unavailable", "stripe_refused"}
TOPUP_ERRORS = {
    "purse_limit_exceeded": "card_over_limit",
    "topup_below_minimum": "card_below_minimum",
    "card_blocked": "card_topup_blocked",
}
AMOUNTS = (1000, 2000, 5000)


def card_routes(rt: Any, pages: Any) -> APIRouter:
    from terminals.kiosk import card_payments
    from terminals.kiosk.client import ServiceError, ServiceUnreachable
    from terminals.kiosk.session import NoSession

    router = APIRouter()
    session = rt.session

    def away() -> Response | None:
        return unless_signed_in(session)

    def pay_page(request: Request, payment: Any) -> Response:
        lang = lang_of(request)
        amount = money(payment.amount_cents, lang)
        what = (
            t(lang, "card_pay_for_topup", amount=amount)
            if payment.kind == "topup"
            else t(lang, "card_pay_for_bill", amount=amount, reference=payment.reference)
        )
        back = (
            "/kiosk/topup"
            if payment.kind == "topup"
            else f"/kiosk/bills/find?reference={payment.reference}"
        )
        return pages.screen(
            request,
            "kiosk/card_pay.html",
            "card_pay",
            here=back,
            payment=payment,
            what=what,
            amount=amount,
            back=back,
            stripe_js=rt.config.stripe_js_url,
        )

    @router.post("/topup/card")
    def topup_card(
        request: Request, cents: int = Form(...), client_id: str = Form(...)
    ) -> Response:
        if (gone := away()) is not None:
            return gone
        try:
            payment = card_payments.start_topup(rt.client, session, client_id[:64], cents)
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        except ServiceError as exc:
            key = "card_unavailable" if exc.code in UNAVAILABLE else TOPUP_ERRORS.get(exc.code)
            if key is None:
                return pages.failure(request, exc.detail)
            return see_other(f"/kiosk/topup?error={key}")
        return pay_page(request, payment)

    @router.post("/bills/card")
    def bill_card(
        request: Request, reference: str = Form(...), client_id: str = Form(...)
    ) -> Response:
        if (gone := away()) is not None:
            return gone
        lang = lang_of(request)
        ref = clean_reference(reference)
        try:
            payment = card_payments.start_bill(rt.client, session, ref, client_id[:64])
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        except ServiceError as exc:
            if exc.code in UNAVAILABLE:
                return pages.screen(
                    request,
                    "kiosk/bill_lookup.html",
                    "bill_lookup",
                    here="/kiosk/bills",
                    reference=ref,
                    error=t(lang, "card_unavailable"),
                )
            key = BILL_ERRORS.get(exc.code)
            if key is None:
                return pages.failure(request, exc.detail)
            return pages.screen(
                request,
                "kiosk/bill_lookup.html",
                "bill_lookup",
                here="/kiosk/bills",
                reference=ref,
                error=t(lang, key, reference=ref),
            )
        return pay_page(request, payment)

    @router.post("/pay/{op}/start")
    def start(request: Request, op: str) -> Response:
        """The page is about to confirm with Stripe: 204, or 409 when it must not (the session
        ended, the payment is not this session's): the page then does not confirm."""
        payment = session.card_payments.get(op)
        if payment is None or payment.outcome:
            return Response(status_code=409)
        try:
            card_payments.begin(session, payment, lambda c: money(c, lang_of(request)))
        except NoSession:
            return Response(status_code=409)
        return Response(status_code=204)

    @router.post("/pay/{op}/finish")
    def finish(request: Request, op: str, error: str = Form("")) -> Response:
        payment = session.card_payments.get(op)
        if payment is None:
            return see_other(gone_to(session) if not session.signed_in else "/kiosk/home")
        try:
            card_payments.settle(
                rt.client,
                session,
                payment,
                error,
                lambda c: money(c, lang_of(request)),
                rt.config.card_payment_wait_s,
            )
        except NoSession:
            return see_other(gone_to(session))
        except ServiceError as exc:
            return pages.failure(request, exc.detail)
        return see_other(f"/kiosk/pay/{op}")

    @router.get("/pay/{op}")
    def outcome(request: Request, op: str) -> Response:
        if (gone := away()) is not None:
            return gone
        payment = session.card_payments.get(op)
        if payment is None or not payment.outcome:
            return see_other("/kiosk/home")
        lang = lang_of(request)
        amount = money(payment.amount_cents, lang)
        if payment.outcome == "done" and payment.kind == "bill":
            return see_other(
                f"/kiosk/paid/{payment.receipt}?reference={payment.reference}"
                f"&amount={payment.amount_cents}"
            )
        balance = None
        if payment.kind == "topup":
            try:
                with session.operation() as token:
                    balance = money(int(rt.client.balance(token)["balance_cents"]), lang)
            except ServiceUnreachable:
                rt.network_lost()
            except (ServiceError, NoSession):
                pass
        texts = {
            "done": t(lang, "topup_done", amount=amount),
            "not_made": t(lang, "card_not_made", amount=amount),
            "pending": t(lang, "card_pending", amount=amount),
        }
        return pages.screen(
            request,
            "kiosk/card_done.html",
            "card_done",
            payment=payment,
            text=texts[payment.outcome],
            balance=balance,
            receipt=payment.receipt if payment.receipt in session.documents else None,
            back="/kiosk/topup" if payment.kind == "topup" else "/kiosk/bills",
        )

    return router


def new_client_id() -> str:
    return uuid.uuid4().hex
