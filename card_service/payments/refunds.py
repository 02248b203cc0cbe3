"""Refunds of unused balance, back to the original payments, newest first.

What is refundable: the purse's balance, but no more than what the holder's Stripe payments
still have unrefunded and undisputed (cash paid at a kiosk is not refunded to a card). A request
(its id is the client's) is split across payments newest first; each part moves purse -> refunds
at once, then Stripe is asked with the idempotency key ``refund-<id>``. Stripe's answer moves it
refunds -> clearing (paid) or refunds -> purse (refused). Stripe not answering leaves the part
``requested``; the worker asks again with the same key.

Refunds made at Stripe itself (the dashboard) arrive as events and are booked from the purse,
below zero if need be (see debts.py), since the money has left already.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.config import Settings
from card_service.db import transaction
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.ledger.results import TransferRejected
from card_service.ledger.schemas import TransferRequest
from card_service.payments import accounts, debts, gateway, topups
from card_service.payments.errors import (
    RefundExceedsRefundable,
    RequestIdReused,
    StripeRefused,
    StripeUnavailable,
)
from card_service.payments.models import Dispute, Refund, TopUp
from card_service.staff.roles import utcnow

log = logging.getLogger(__name__)
TAKEN = ("requested", "succeeded")


@dataclass(frozen=True)
class Refundable:
    total_cents: int
    parts: list[tuple[TopUp, int]]  # payment, what it still has, newest first


def refundable(session: Session, holder: Holder, *, lock: bool = False) -> Refundable:
    query = (
        select(TopUp)
        .where(TopUp.holder_id == holder.id, TopUp.status == "succeeded")
        .order_by(TopUp.created_at.desc(), TopUp.id)
    )
    paid = list(session.scalars(query.with_for_update() if lock else query))
    refunded: dict[uuid.UUID, int] = dict(
        session.execute(
            select(Refund.topup_id, func.sum(Refund.amount_cents))
            .where(Refund.holder_id == holder.id, Refund.status.in_(TAKEN))
            .group_by(Refund.topup_id)
        ).all()
    )
    disputed: dict[uuid.UUID, int] = dict(
        session.execute(
            select(Dispute.topup_id, func.sum(Dispute.amount_cents))
            .where(Dispute.holder_id == holder.id, Dispute.status != "won")
            .group_by(Dispute.topup_id)
        ).all()
    )
    parts = []
    for t in paid:
        left = t.credited_cents - int(refunded.get(t.id) or 0) - int(disputed.get(t.id) or 0)
        if left > 0:
            parts.append((t, left))
    purse = max(debts.balances(session, holder).available_cents, 0)
    return Refundable(min(purse, sum(left for _t, left in parts)), parts)


def _ask(
    session: Session,
    actor: Actor,
    holder: Holder,
    request_id: uuid.UUID,
    amount: int | None,
    origin: str,
    note: str | None,
) -> None:
    can = refundable(session, holder, lock=True)
    amount = can.total_cents if amount is None else amount
    if amount <= 0 or amount > can.total_cents:
        raise RefundExceedsRefundable(
            f"{can.total_cents} cents can be refunded to the original payments; asked {amount}"
        )
    purse, held = debts.purse_of(session, holder), accounts.refunds(session)
    now, left, requests = utcnow(), amount, []
    for topup, available in can.parts:
        part = min(left, available)
        if part <= 0:
            break
        refund = Refund(
            id=accounts.transfer_id("refund", request_id, topup.id),
            request_id=request_id,
            topup_id=topup.id,
            holder_id=holder.id,
            amount_cents=part,
            status="requested",
            origin=origin,
            requested_by=actor.id[:64],
            created_at=now,
            updated_at=now,
        )
        session.add(refund)
        requests.append(
            TransferRequest(
                accounts.transfer_id(refund.id, "requested"),
                purse,
                held,
                part,
                accounts.REFUND_REQUESTED,
                topup.stripe_payment_intent_id,
            )
        )
        left -= part
    session.flush()
    for result in ledger.create_transfers(session, requests):
        if not result.ok:  # a fare took the money meanwhile: nothing is kept
            raise RefundExceedsRefundable(f"the purse cannot pay this refund ({result.result})")
    audit.record(
        session, actor, "payments.refund", f"holder:{holder.pseudonym}",
        reason=f"{amount} cents to {len(requests)} payment(s)" + (f": {note}" if note else ""),
    )  # fmt: skip


def request(
    factory: sessionmaker[Session],
    settings: Settings,
    actor: Actor,
    holder_id: int,
    request_id: uuid.UUID,
    amount: int | None,
    origin: str,
    *,
    note: str | None = None,
) -> list[Refund]:
    """Refund ``amount`` (None: all that is refundable) and ask Stripe for each part."""
    gateway.client(settings)
    with transaction(factory) as s:
        holder = s.get(Holder, holder_id, with_for_update=True)
        assert holder is not None
        rows = of_request(s, request_id)
        if rows:
            if rows[0].holder_id != holder_id or (
                amount is not None and sum(r.amount_cents for r in rows) != amount
            ):
                raise RequestIdReused("this request id was used for another refund")
        else:
            _ask(s, actor, holder, request_id, amount, origin, note)
    for refund_id in [r.id for r in rows] or _ids(factory, request_id):
        send(factory, settings, refund_id)
    with factory() as s:
        return of_request(s, request_id)


def _ids(factory: sessionmaker[Session], request_id: uuid.UUID) -> list[uuid.UUID]:
    with factory() as s:
        return [r.id for r in of_request(s, request_id)]


def of_request(session: Session, request_id: uuid.UUID) -> list[Refund]:
    return list(
        session.scalars(
            select(Refund).where(Refund.request_id == request_id).order_by(Refund.created_at)
        )
    )


def send(factory: sessionmaker[Session], settings: Settings, refund_id: uuid.UUID) -> str:
    """Ask Stripe for one requested refund; book its answer. Returns the refund's status."""
    client = gateway.client(settings)
    with factory() as s:
        refund = s.get(Refund, refund_id)
        assert refund is not None
        if refund.status != "requested":
            return refund.status
        topup = s.get(TopUp, refund.topup_id)
        assert topup is not None
        params: Any = {
            "payment_intent": topup.stripe_payment_intent_id,
            "amount": refund.amount_cents,
            "metadata": {"refund_id": str(refund.id)},
        }
    try:
        made = gateway.call(
            lambda: client.v1.refunds.create(
                params=params, options={"idempotency_key": f"refund-{refund_id}"}
            )
        )
    except StripeUnavailable:
        log.warning("refund %s: Stripe unavailable, stays requested", refund_id)
        return "requested"
    except StripeRefused as exc:
        with transaction(factory) as s:
            return _settle(s, refund_id, None, "failed", exc.detail)
    with transaction(factory) as s:
        return _settle(s, refund_id, made.id, str(made.status), None)


def _settle(
    session: Session, refund_id: uuid.UUID, stripe_id: str | None, status: str, why: str | None
) -> str:
    """Book Stripe's answer to one of our refunds: paid (pending counts: the money has left
    our Stripe balance) or refused (the money goes back to the purse)."""
    refund = session.get(Refund, refund_id, with_for_update=True)
    assert refund is not None
    if refund.status != "requested":
        return refund.status
    holder = session.get(Holder, refund.holder_id)
    assert holder is not None
    paid = status in ("succeeded", "pending")
    if paid:
        request = TransferRequest(
            accounts.transfer_id(refund.id, "paid"),
            accounts.refunds(session),
            accounts.clearing(session),
            refund.amount_cents,
            accounts.REFUND_PAID,
            stripe_id,
        )
    else:
        request = TransferRequest(
            accounts.transfer_id(refund.id, "returned"),
            accounts.refunds(session),
            debts.purse_of(session, holder),
            refund.amount_cents,
            accounts.REFUND_RETURNED,
            stripe_id,
        )
    result = ledger.create_transfers(session, [request])[0]
    if not result.ok:
        raise TransferRejected(result.result, result.id)
    refund.status = "succeeded" if paid else "failed"
    refund.stripe_refund_id = stripe_id or refund.stripe_refund_id
    refund.failure = None if paid else (why or f"Stripe says {status}")[:256]
    refund.updated_at = utcnow()
    return refund.status


def retry_requested(
    factory: sessionmaker[Session], settings: Settings, older_than_s: float = 30
) -> int:
    """Ask Stripe again for refunds it did not answer (the worker's round)."""
    before = utcnow() - timedelta(seconds=older_than_s)
    with factory() as s:
        ids = list(
            s.scalars(
                select(Refund.id).where(Refund.status == "requested", Refund.created_at < before)
            )
        )
    for refund_id in ids:
        send(factory, settings, refund_id)
    return len(ids)


def on_refund(session: Session, settings: Settings, refund: dict[str, Any]) -> topups.Outcome:
    """A refund as Stripe reports it (``refund.*`` events, or inside ``charge.refunded``)."""
    stripe_id = str(refund.get("id") or "")
    status = str(refund.get("status") or "")
    ours = session.scalars(select(Refund).where(Refund.stripe_refund_id == stripe_id)).first()
    raw = (refund.get("metadata") or {}).get("refund_id")
    if ours is None and raw:
        try:
            ours = session.get(Refund, uuid.UUID(str(raw)))
        except ValueError:
            ours = None
    if ours is not None:
        if ours.status == "requested":
            return "applied", f"refund {_settle(session, ours.id, stripe_id, status, None)}"
        if ours.status == "succeeded" and status in ("failed", "canceled"):
            return _failed_after_paid(session, ours, stripe_id)
        return "ignored", "booked already"
    if status not in ("succeeded", "pending"):
        return "ignored", f"a refund made at Stripe that is {status}"
    return _made_at_stripe(session, settings, refund, stripe_id)


def _made_at_stripe(
    session: Session, settings: Settings, refund: dict[str, Any], stripe_id: str
) -> topups.Outcome:
    intent_id = gateway.object_id(refund.get("payment_intent"))
    charge_id = gateway.object_id(refund.get("charge"))
    topup = None
    if intent_id:
        topup = topups.find(session, {"id": intent_id})
    if topup is None and charge_id:
        topup = session.scalars(select(TopUp).where(TopUp.stripe_charge_id == charge_id)).first()
    if topup is None:
        return "ignored", "a refund of a payment that is not ours"
    if topup.status != "succeeded":  # the refund came before the success: a refund proves it
        topups.credit(session, settings, topup, topup.amount_cents, charge_id)
    holder = session.get(Holder, topup.holder_id)
    assert holder is not None
    amount = int(refund.get("amount") or 0)
    from_purse, debt = debts.take(
        session, holder, amount,
        to_account=accounts.clearing(session), key=f"refund:{stripe_id}",
        code=accounts.REFUND_STRIPE, debt_code=accounts.REFUND_STRIPE, user_data=stripe_id,
    )  # fmt: skip
    now = utcnow()
    session.add(
        Refund(
            id=accounts.transfer_id("stripe-refund", stripe_id),
            request_id=accounts.transfer_id("stripe-refund", stripe_id),
            topup_id=topup.id,
            holder_id=holder.id,
            amount_cents=amount,
            status="succeeded",
            stripe_refund_id=stripe_id,
            origin="stripe",
            requested_by="stripe",
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()
    return "applied", f"refund made at Stripe: {from_purse} from the purse, {debt} as debt"


def _failed_after_paid(session: Session, refund: Refund, stripe_id: str) -> topups.Outcome:
    """Stripe could not pay a refund out after all: the money comes back to the purse."""
    holder = session.get(Holder, refund.holder_id)
    assert holder is not None
    request = TransferRequest(
        accounts.transfer_id(refund.id, "failed"),
        accounts.clearing(session),
        debts.purse_of(session, holder),
        refund.amount_cents,
        accounts.REFUND_FAILED,
        stripe_id,
    )
    result = ledger.create_transfers(session, [request])[0]
    if not result.ok:
        raise TransferRejected(result.result, result.id)
    refund.status, refund.failure, refund.updated_at = "failed", "failed at the bank", utcnow()
    if not result.replayed:
        debts.settle(session, holder, request.id)
    return "applied", "refund failed after it was paid: back in the purse"


def on_charge_refunded(
    session: Session, settings: Settings, charge: dict[str, Any]
) -> topups.Outcome:
    listed = (charge.get("refunds") or {}).get("data") or []
    if not listed:
        return "ignored", "no refunds listed in the charge (refund.* events carry them)"
    outcomes = []
    for refund in listed:
        refund = dict(refund)
        refund.setdefault("charge", charge.get("id"))
        if not refund.get("payment_intent"):
            refund["payment_intent"] = charge.get("payment_intent")
        outcomes.append(on_refund(session, settings, refund)[1] or "")
    return "applied", "; ".join(outcomes)[:256]
