"""The kiosk's screens for paying a bill or fine by reference, and the residence certificate.

A payment carries a client id made when the bill is shown, so pressing "pay" twice, or a retry
after a lost answer, pays once. Before the call the session remembers "not confirmed"; after it,
"paid, receipt R-..." or "not paid": whatever happens to the card meanwhile, the welcome screen
then tells the truth.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from kiosk_ui.i18n import day, money, t
from kiosk_ui.nav import see_other, unless_signed_in
from kiosk_ui.render import lang_of

BILL_ERRORS = {
    "bill_not_found": "bill_not_found",
    "bill_already_paid": "bill_already_paid",
    "bill_cancelled": "bill_cancelled",
    "request_invalid": "bill_not_found",
}


def clean_reference(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch.isalnum() or ch == "-")[:32]


def bills_routes(rt: Any, pages: Any) -> APIRouter:
    from terminals.kiosk.client import ServiceError, ServiceUnreachable
    from terminals.kiosk.session import NoSession, Notice

    router = APIRouter()
    session = rt.session

    def away() -> Response | None:
        return unless_signed_in(session)

    def lookup(request: Request, reference: str = "", error: str | None = None) -> Response:
        return pages.screen(
            request,
            "kiosk/bill_lookup.html",
            "bill_lookup",
            here="/kiosk/bills",
            reference=reference,
            error=error,
        )

    @router.get("/bills")
    def bills(request: Request) -> Response:
        return away() or lookup(request)

    @router.get("/bills/find")
    def find(request: Request, reference: str = "") -> Response:
        if (gone := away()) is not None:
            return gone
        lang = lang_of(request)
        ref = clean_reference(reference)
        if not ref:
            return lookup(request, error=t(lang, "bill_not_found", reference=reference[:32]))
        try:
            with session.operation() as token:
                bill = rt.client.bill(token, ref)
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        except ServiceError as exc:
            key = BILL_ERRORS.get(exc.code)
            if key is None:
                return pages.failure(request, exc.detail)
            return lookup(request, ref, t(lang, key, reference=ref))
        if bill["status"] != "open":
            key = "bill_already_paid" if bill["status"] == "paid" else "bill_cancelled"
            return lookup(request, ref, t(lang, key, reference=ref))
        return bill_page(request, bill)

    def bill_page(request: Request, bill: dict[str, Any], error: str | None = None) -> Response:
        lang = lang_of(request)
        due = date.fromisoformat(bill["due_date"])
        return pages.screen(
            request,
            "kiosk/bill.html",
            "bill",
            here=f"/kiosk/bills/find?reference={bill['reference']}",
            bill=bill,
            amount=money(int(bill["amount_cents"]), lang),
            due=day(due, lang),
            overdue=due < date.today(),
            client_id=uuid.uuid4().hex,
            error=error,
        )

    @router.post("/bills/pay")
    def pay(request: Request, reference: str = Form(...), client_id: str = Form(...)) -> Response:
        if (gone := away()) is not None:
            return gone
        lang = lang_of(request)
        ref = clean_reference(reference)
        try:
            with session.operation() as token:
                session.remember(Notice("notice_unknown", {"reference": ref}))
                try:
                    paid = rt.client.pay_bill(token, ref, client_id[:64])
                except ServiceError:
                    session.remember(Notice("notice_not_paid", {"reference": ref}))
                    raise
                receipt = str(paid["receipt"])
                amount = money(int(paid["amount_cents"]), lang)
                session.remember(
                    Notice(
                        "notice_paid",
                        {"amount": amount, "reference": ref, "receipt": receipt},
                        link=f"/kiosk/documents/{receipt}.pdf",
                    )
                )
                # The receipt is made either way; without its PDF now, card_service has it.
                with contextlib.suppress(ServiceError, ServiceUnreachable):
                    session.documents[receipt] = rt.client.receipt_pdf(token, receipt)
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        except ServiceError as exc:
            if exc.code == "insufficient_balance":
                with session.operation() as token:
                    bill = rt.client.bill(token, ref)
                    purse = rt.client.balance(token)
                error = t(
                    lang,
                    "purse_insufficient",
                    balance=money(int(purse["balance_cents"]), lang),
                    amount=money(int(bill["amount_cents"]), lang),
                )
                return bill_page(request, bill, error)
            key = BILL_ERRORS.get(exc.code)
            if key is None:
                return pages.failure(request, exc.detail)
            return lookup(request, ref, t(lang, key, reference=ref))
        return see_other(f"/kiosk/paid/{receipt}?reference={ref}&amount={paid['amount_cents']}")

    @router.get("/paid/{receipt}")
    def paid(request: Request, receipt: str, reference: str = "", amount: int = 0) -> Response:
        if (gone := away()) is not None:
            return gone
        return pages.screen(
            request,
            "kiosk/paid.html",
            "paid",
            receipt=receipt,
            reference=clean_reference(reference),
            amount=money(amount, lang_of(request)),
        )

    @router.get("/certificate")
    def certificate_page(request: Request) -> Response:
        if (gone := away()) is not None:
            return gone
        return pages.screen(
            request, "kiosk/certificate.html", "certificate", client_id=uuid.uuid4().hex
        )

    @router.post("/certificate")
    def certificate(request: Request, client_id: str = Form(...)) -> Response:
        if (gone := away()) is not None:
            return gone
        lang = lang_of(request)
        try:
            with session.operation() as token:
                cert = rt.client.residence_certificate(token, client_id[:64])
                session.documents[cert["serial"]] = rt.client.certificate_pdf(token, cert["serial"])
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        except ServiceError as exc:
            if exc.code == "not_resident":
                return pages.screen(
                    request,
                    "kiosk/certificate.html",
                    "certificate",
                    client_id=uuid.uuid4().hex,
                    error=t(lang, "cert_not_resident"),
                )
            return pages.failure(request, exc.detail)
        return pages.screen(
            request, "kiosk/certificate.html", "certificate", here="/kiosk/certificate", cert=cert
        )

    return router
