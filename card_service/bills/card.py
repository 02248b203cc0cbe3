"""Paying a bill or fine by bank card: a PaymentIntent for the bill's amount, paid on Stripe's
element in the kiosk's browser, and the bill settled only once Stripe says the payment succeeded.

``begin`` creates the PaymentIntent (metadata ``kind=bill``, the reference and the holder's
pseudonym; idempotency key from the bill and the kiosk's client id). ``check`` asks Stripe itself
for the PaymentIntent, never the page: ``succeeded`` with our amount and currency settles the bill
through ``service.pay_by_card`` (clearing -> bills revenue, the charge id as the ledger's
``user_data`` so reconciliation matches it), once, whoever asks again. ``on_succeeded`` is the
same step for payments' webhook (a bill's ``payment_intent.succeeded``), so a bill whose kiosk
lost its page is settled too once payments dispatches to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.audit.schemas import Actor
from card_service.bills import service
from card_service.bills.errors import BillAlreadyPaid, CardPaymentMismatch
from card_service.bills.models import Bill
from card_service.config import Settings
from card_service.identity.models import Holder
from card_service.payments import accounts, gateway

KIND = "bill"


@dataclass(frozen=True)
class Started:
    payment_intent_id: str
    client_secret: str
    amount_cents: int


@dataclass(frozen=True)
class Checked:
    status: str  # paid | pending | failed
    bill: Bill
    failure: str | None = None


def begin(
    session: Session, settings: Settings, holder: Holder, reference: str, client_id: str
) -> Started:
    """A PaymentIntent for an open bill (the same client id again: the same PaymentIntent)."""
    bill = service.get(session, reference)
    if bill.status == "paid":
        raise BillAlreadyPaid(f"the bill {bill.reference} is paid already")
    service.check_open(bill)
    client = gateway.client(settings)
    params: Any = {
        "amount": bill.amount_cents,
        "currency": settings.payments_currency,
        "payment_method_types": ["card"],
        "metadata": {"kind": KIND, "bill": bill.reference, "holder": holder.pseudonym},
    }
    key = f"bill-{bill.id}-{client_id}"
    intent = gateway.call(
        lambda: client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
    )
    assert intent.client_secret is not None
    return Started(intent.id, intent.client_secret, bill.amount_cents)


def _failure(intent: dict[str, Any]) -> str | None:
    status = intent.get("status")
    error = intent.get("last_payment_error") or {}
    if status == "canceled":
        return "canceled"
    if status == "requires_payment_method" and error:
        return str(error.get("message") or error.get("code") or "payment_failed")[:200]
    return None


def settle(
    session: Session, settings: Settings, actor: Actor, intent: dict[str, Any]
) -> Checked | None:
    """Settle the bill behind a PaymentIntent Stripe reports; None when it is not a bill's."""
    meta = intent.get("metadata") or {}
    if meta.get("kind") != KIND or not meta.get("bill"):
        return None
    bill = service.get(session, str(meta["bill"]))
    if intent.get("status") != "succeeded":
        failure = _failure(intent)
        return Checked("failed" if failure else "pending", bill, failure)
    amount = int(intent.get("amount_received") or intent.get("amount") or 0)
    currency = str(intent.get("currency", "")).lower()
    if amount != bill.amount_cents or currency != settings.payments_currency:
        raise CardPaymentMismatch(
            f"the payment {intent.get('id')} is {amount} {currency}; the bill asks "
            f"{bill.amount_cents} {settings.payments_currency}"
        )
    holder_id = session.scalar(
        select(Holder.id).where(Holder.pseudonym == str(meta.get("holder") or ""))
    )
    paid = service.pay_by_card(
        session,
        actor,
        bill.reference,
        clearing_account_id=accounts.clearing(session),
        payment_id=str(intent["id"]),
        holder_id=holder_id,
        charge_id=gateway.charge_of(intent),
    )
    return Checked("paid", paid.bill)


def check(
    session: Session,
    settings: Settings,
    actor: Actor,
    holder: Holder,
    reference: str,
    payment_intent_id: str,
) -> Checked:
    """Ask Stripe how this bill's PaymentIntent stands; settle the bill if it succeeded."""
    client = gateway.client(settings)
    intent = gateway.plain(
        gateway.call(lambda: client.v1.payment_intents.retrieve(payment_intent_id))
    )
    meta = intent.get("metadata") or {}
    if (
        meta.get("kind") != KIND
        or service.normalise(str(meta.get("bill") or "")) != service.normalise(reference)
        or meta.get("holder") != holder.pseudonym
    ):
        raise CardPaymentMismatch("this payment is not yours for this bill")
    checked = settle(session, settings, actor, intent)
    assert checked is not None
    return checked


def on_succeeded(session: Session, settings: Settings, intent: dict[str, Any]) -> tuple[str, str]:
    """For payments' webhook dispatch: ``payment_intent.succeeded`` of a bill's PaymentIntent."""
    checked = settle(session, settings, Actor.system("stripe-webhook"), intent)
    if checked is None:
        return "ignored", "not a bill's payment"
    return "applied", f"bill {checked.bill.reference}: {checked.status}"
