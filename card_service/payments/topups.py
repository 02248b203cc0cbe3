"""Online top-ups: a holder asks, Stripe takes the card on its own page, the webhook credits.

``begin_online`` records the top-up, then creates the PaymentIntent with the idempotency key
``topup-<id>`` (so the library's retries, and the holder's retry of the same request id, reach
the same PaymentIntent), then stores its id. ``credit`` is the one way money enters a purse from
Stripe: transfer id = UUIDv5 of the PaymentIntent, so the success event, its redelivery, a refund
or dispute seen before it, and the synchronous answer of an off-session payment all credit once.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from card_service.cards.models import Card
from card_service.config import Settings
from card_service.db import transaction
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.ledger.results import TransferRejected
from card_service.ledger.schemas import TransferRequest
from card_service.me.service import own_card
from card_service.payments import accounts, debts, gateway
from card_service.payments.errors import (
    CardBlocked,
    PurseLimitExceeded,
    RequestIdReused,
    TopUpBelowMinimum,
)
from card_service.payments.models import AutoTopUp, TopUp
from card_service.staff.roles import aware, utcnow

LIVE_CARD = ("requested", "active")
OPEN = ("creating", "pending", "queued")
Outcome = tuple[str, str | None]


def check_card(card: Card) -> None:
    if card.status not in LIVE_CARD:
        raise CardBlocked(f"the card is {card.status}: nothing can be paid onto it")


def check_limits(session: Session, settings: Settings, holder: Holder, amount: int) -> None:
    """At least the minimum; the purse, with top-ups still being paid, stays within the maximum."""
    if amount < settings.topup_min_cents:
        raise TopUpBelowMinimum(
            f"a top-up is at least {settings.topup_min_cents} cents; asked {amount}"
        )
    since = utcnow() - timedelta(minutes=settings.topup_pending_minutes)
    in_flight = session.scalar(
        select(func.coalesce(func.sum(TopUp.amount_cents), 0)).where(
            TopUp.holder_id == holder.id, TopUp.status.in_(OPEN), TopUp.created_at >= since
        )
    )
    now = debts.balances(session, holder)
    room = settings.purse_max_cents - now.balance_cents - int(in_flight or 0)
    if amount > room:
        raise PurseLimitExceeded(
            f"a purse holds at most {settings.purse_max_cents} cents; "
            f"{max(room, 0)} cents can still be added"
        )


def _new(
    session: Session,
    holder: Holder,
    card: Card | None,
    request_id: uuid.UUID,
    kind: str,
    amount: int,
) -> TopUp:
    now = utcnow()
    topup = TopUp(
        id=request_id,
        holder_id=holder.id,
        card_id=card.id if card else None,
        kind=kind,
        amount_cents=amount,
        status="creating" if kind == "online" else "queued",
        credited_cents=0,
        created_at=now,
        updated_at=now,
    )
    session.add(topup)
    session.flush()
    return topup


def begin_online(
    factory: sessionmaker[Session],
    settings: Settings,
    card_id: int | None,
    request_id: uuid.UUID,
    amount: int,
) -> tuple[TopUp, str | None]:
    """Record the top-up and create its PaymentIntent; the client secret goes to the browser."""
    client = gateway.client(settings)
    with transaction(factory) as s:
        card, holder = own_card(s, card_id)
        topup = s.get(TopUp, request_id)
        if topup is not None:
            if topup.holder_id != holder.id or topup.amount_cents != amount:
                raise RequestIdReused("this request id was used for another top-up")
        else:
            check_card(card)
            check_limits(s, settings, holder, amount)
            topup = _new(s, holder, card, request_id, "online", amount)
        pseudonym, intent_id = holder.pseudonym, topup.stripe_payment_intent_id
    if topup.status not in ("creating", "pending"):
        return topup, None
    if intent_id is not None:
        intent = gateway.call(lambda: client.v1.payment_intents.retrieve(intent_id))
    else:
        params: Any = {
            "amount": amount,
            "currency": settings.payments_currency,
            "payment_method_types": ["card"],
            "metadata": {"topup_id": str(request_id), "holder": pseudonym, "kind": "online"},
        }
        intent = gateway.call(
            lambda: client.v1.payment_intents.create(
                params=params, options={"idempotency_key": f"topup-{request_id}"}
            )
        )
    with transaction(factory) as s:
        topup = s.get(TopUp, request_id, with_for_update=True)
        assert topup is not None
        if topup.stripe_payment_intent_id is None:
            topup.stripe_payment_intent_id = intent.id
            topup.status, topup.updated_at = "pending", utcnow()
    return topup, intent.client_secret


def find(session: Session, intent: dict[str, Any], *, lock: bool = True) -> TopUp | None:
    """Our top-up behind a PaymentIntent: by its id, else by the id we put in its metadata."""
    intent_id = intent.get("id")
    query = select(TopUp).where(TopUp.stripe_payment_intent_id == intent_id)
    topup = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if topup is not None:
        return topup
    raw = (intent.get("metadata") or {}).get("topup_id")
    try:
        topup = session.get(TopUp, uuid.UUID(str(raw)), with_for_update=lock) if raw else None
    except ValueError:
        return None
    if topup is not None and topup.stripe_payment_intent_id is None and intent_id:
        topup.stripe_payment_intent_id = str(intent_id)
    return topup if topup is not None and topup.stripe_payment_intent_id == intent_id else None


def credit(
    session: Session, settings: Settings, topup: TopUp, amount: int, charge_id: str | None
) -> Outcome:
    """Credit the purse from Stripe's clearing account, once per PaymentIntent."""
    if topup.status == "succeeded":
        return "applied", "credited already"
    holder = session.get(Holder, topup.holder_id)
    assert holder is not None and topup.stripe_payment_intent_id is not None
    code = accounts.TOPUP_AUTO if topup.kind == "auto" else accounts.TOPUP_ONLINE
    request = TransferRequest(
        accounts.transfer_id("topup", topup.stripe_payment_intent_id),
        accounts.clearing(session),
        debts.purse_of(session, holder),
        amount,
        code,
        charge_id or topup.stripe_payment_intent_id,
    )
    result = ledger.create_transfers(session, [request])[0]
    if not result.ok:
        raise TransferRejected(result.result, result.id)
    topup.status, topup.credited_cents, topup.updated_at = "succeeded", amount, utcnow()
    topup.stripe_charge_id = charge_id
    topup.failure_code = topup.failure_message = None
    if topup.kind == "auto":
        auto = session.get(AutoTopUp, topup.holder_id)
        if auto is not None:
            auto.consecutive_failures = 0
    if not result.replayed:
        debts.settle(session, holder, request.id)
    return "applied", f"credited {amount} cents"


def on_succeeded(session: Session, settings: Settings, intent: dict[str, Any]) -> Outcome:
    topup = find(session, intent)
    if topup is None:
        return "ignored", "not a top-up of ours"
    if str(intent.get("currency", "")).lower() != settings.payments_currency:
        return "ignored", f"currency {intent.get('currency')} is not ours"
    amount = int(intent.get("amount_received") or intent.get("amount") or 0)
    return credit(session, settings, topup, amount, gateway.charge_of(intent))


def on_failed(session: Session, settings: Settings, intent: dict[str, Any]) -> Outcome:
    from card_service.payments import auto_topup

    topup = find(session, intent)
    if topup is None:
        return "ignored", "not a top-up of ours"
    if topup.status == "succeeded":
        return "ignored", "succeeded already (events out of order)"
    error = intent.get("last_payment_error") or {}
    code = str(error.get("decline_code") or error.get("code") or "payment_failed")[:64]
    message = str(error.get("message") or "the payment failed")[:256]
    first_report = topup.status != "failed"
    topup.status, topup.failure_code, topup.failure_message = "failed", code, message
    topup.updated_at = utcnow()
    if topup.kind == "auto" and first_report:
        auto_topup.record_failure(session, settings, topup.holder_id, message)
    return "applied", f"failed: {code}"


def on_canceled(session: Session, settings: Settings, intent: dict[str, Any]) -> Outcome:
    topup = find(session, intent)
    if topup is None:
        return "ignored", "not a top-up of ours"
    if topup.status == "succeeded":
        return "ignored", "succeeded already"
    topup.status, topup.updated_at = "canceled", utcnow()
    return "applied", "canceled"


def of_holder(session: Session, holder_id: int, limit: int = 50) -> list[TopUp]:
    return list(
        session.scalars(
            select(TopUp)
            .where(TopUp.holder_id == holder_id)
            .order_by(TopUp.created_at.desc())
            .limit(limit)
        )
    )


def age_s(topup: TopUp) -> float:
    return (utcnow() - aware(topup.created_at)).total_seconds()
