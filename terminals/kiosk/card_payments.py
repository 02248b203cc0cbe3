"""Bank-card payments at the kiosk: a top-up, or a bill, paid on Stripe's element in the kiosk's
browser. The page only ever confirms with Stripe; whether money moved is asked of card_service
(the top-up credited by Stripe's webhook; the bill settled once card_service has asked Stripe).

1. ``start_*`` asks card_service for the PaymentIntent (idempotent: a request id per screen);
   the page gets its client secret and the publishable key, never the citizen's token.
2. The page reports "confirming" (``begin``): the session holds, so a card pulled now, or the
   idle timeout, waits for the outcome instead of cutting the payment in half; the welcome
   screen's notice says "not confirmed yet" until the outcome is known.
3. The page reports "confirmed" or Stripe's error (``settle``): the runtime polls card_service
   until the top-up is credited or the bill paid (receipt fetched, notice "done"), or failed
   (notice "not made"), then releases the hold.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from terminals.kiosk.client import CardServiceClient, ServiceError, ServiceUnreachable
from terminals.kiosk.session import KioskSession, Notice

log = logging.getLogger(__name__)
NAMESPACE = uuid.UUID("0b7c3f1e-9a5d-4d8e-8f2a-6c4b1e7d9a30")
Money = Callable[[int], str]


@dataclass
class CardPayment:
    op: str
    kind: str  # topup | bill
    amount_cents: int
    client_secret: str
    publishable_key: str
    topup_id: str = ""
    intent_id: str = ""
    reference: str = ""
    outcome: str = ""  # done | not_made | pending
    receipt: str | None = None
    failure: str | None = None


def request_id(client_id: str, cents: int) -> str:
    """One top-up per screen and amount: pressing twice, or a retry, is the same top-up."""
    return str(uuid.uuid5(NAMESPACE, f"{client_id}:{cents}"))


def start_topup(
    client: CardServiceClient, session: KioskSession, client_id: str, cents: int
) -> CardPayment:
    with session.operation() as token:
        out = client.start_topup(token, request_id(client_id, cents), cents)
    if not out.get("client_secret"):
        raise ServiceError(409, "topup_not_pending", f"the top-up is {out.get('status')}")
    return _kept(
        session,
        out,
        kind="topup",
        topup_id=str(out["id"]),
        intent_id=str(out.get("payment_intent_id") or ""),
    )


def start_bill(
    client: CardServiceClient, session: KioskSession, reference: str, client_id: str
) -> CardPayment:
    with session.operation() as token:
        out = client.start_bill_card(token, reference, client_id)
    return _kept(
        session,
        out,
        kind="bill",
        intent_id=str(out["payment_intent_id"]),
        reference=str(out["reference"]),
    )


def _kept(session: KioskSession, out: dict[str, Any], **fields: Any) -> CardPayment:
    """The payment card_service started (``out``), kept in the session under a new op id."""
    payment = CardPayment(
        op=uuid.uuid4().hex,
        amount_cents=int(out["amount_cents"]),
        client_secret=str(out["client_secret"]),
        publishable_key=str(out.get("publishable_key") or ""),
        **fields,
    )
    session.card_payments[payment.op] = payment
    return payment


def begin(session: KioskSession, payment: CardPayment, money: Money) -> None:
    """The page is about to confirm with Stripe: hold the session until it reports back."""
    session.hold(payment.op)
    session.remember(Notice("notice_card_pending", {"amount": money(payment.amount_cents)}))


def _poll_once(client: CardServiceClient, token: str, payment: CardPayment) -> str:
    if payment.kind == "topup":
        status = str(client.topup(token, payment.topup_id)["status"])
        if status == "succeeded":
            return "done"
        return "not_made" if status in ("failed", "canceled") else "pending"
    out = client.check_bill_card(token, payment.reference, payment.intent_id)
    if out["status"] == "paid":
        payment.receipt = str(out["receipt"])
        return "done"
    payment.failure = out.get("failure")
    return "not_made" if out["status"] == "failed" else "pending"


def settle(
    client: CardServiceClient,
    session: KioskSession,
    payment: CardPayment,
    page_error: str,
    money: Money,
    wait_s: float = 20.0,
) -> CardPayment:
    """After the page's confirmation (or Stripe's refusal on the page): learn the real outcome
    from card_service, keep the receipt, say it on the welcome screen if the card has left."""
    amount = money(payment.amount_cents)
    # Stripe refused on the page: the payment was not confirmed, so no credit can follow. Look
    # briefly anyway (the page's word is never trusted for money, either way).
    deadline = time.monotonic() + (3.0 if page_error else wait_s)
    outcome = "pending"
    try:
        with session.holding(payment.op) as token:
            while True:
                try:
                    outcome = _poll_once(client, token, payment)
                except ServiceUnreachable as exc:
                    log.info("card payment %s: card_service not reached: %s", payment.op, exc)
                if outcome != "pending" or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            if outcome == "pending" and page_error:
                outcome = "not_made"
            if outcome == "done":
                name = payment.receipt if payment.kind == "bill" else f"topup-{payment.topup_id}"
                assert name is not None
                payment.receipt = name
                try:
                    pdf = (
                        client.receipt_pdf(token, name)
                        if payment.kind == "bill"
                        else client.topup_receipt_pdf(token, payment.topup_id)
                    )
                    session.documents[name] = pdf
                except (ServiceError, ServiceUnreachable) as exc:  # made; the PDF later
                    log.info("card payment receipt not fetched: %s", exc)
                link = f"/kiosk/documents/{name}.pdf" if name in session.documents else None
                if payment.kind == "bill":
                    params = {"amount": amount, "reference": payment.reference, "receipt": name}
                    session.remember(Notice("notice_paid", params, link=link))
                else:
                    session.remember(Notice("notice_topup_paid", {"amount": amount}, link=link))
            elif outcome == "not_made":
                session.remember(Notice("notice_card_not_made", {"amount": amount}))
            else:
                session.remember(Notice("notice_card_pending", {"amount": amount}))
    finally:
        session.release(payment.op)
    payment.outcome = outcome
    payment.failure = payment.failure or (page_error[:200] if page_error else None)
    return payment
