"""Disputes (chargebacks): the holder's bank takes a payment back, Stripe takes it from us, so
it comes out of the purse, below zero if the purse was spent (see debts.py: the part the purse
cannot pay is the holder's debt, and their cards go on the deny list until it is paid).

A dispute the city wins gives the money back to the purse, which pays the debt first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.config import Settings
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.ledger.results import TransferRejected
from card_service.ledger.schemas import TransferRequest
from card_service.payments import accounts, debts, gateway, topups
from card_service.payments.models import Dispute, TopUp
from card_service.staff.roles import utcnow

SYSTEM = Actor.system("payments.disputes")


def _topup_of(session: Session, dispute: dict[str, Any]) -> TopUp | None:
    intent_id = gateway.object_id(dispute.get("payment_intent"))
    charge_id = gateway.object_id(dispute.get("charge"))
    topup = topups.find(session, {"id": intent_id}) if intent_id else None
    if topup is None and charge_id:
        topup = session.scalars(select(TopUp).where(TopUp.stripe_charge_id == charge_id)).first()
    return topup


def on_created(session: Session, settings: Settings, dispute: dict[str, Any]) -> topups.Outcome:
    dispute_id = str(dispute.get("id") or "")
    if session.get(Dispute, dispute_id) is not None:
        return "ignored", "booked already"
    topup = _topup_of(session, dispute)
    if topup is None:
        return "ignored", "a dispute about a payment that is not ours"
    charge_id = gateway.object_id(dispute.get("charge"))
    if topup.status != "succeeded":  # disputed, so it was paid: the success event is late
        topups.credit(session, settings, topup, topup.amount_cents, charge_id)
    holder = session.get(Holder, topup.holder_id)
    assert holder is not None
    amount = int(dispute.get("amount") or 0)
    from_purse, debt = debts.take(
        session, holder, amount,
        to_account=accounts.clearing(session), key=f"dispute:{dispute_id}",
        code=accounts.DISPUTE, debt_code=accounts.DISPUTE_DEBT, user_data=dispute_id,
    )  # fmt: skip
    now = utcnow()
    session.add(
        Dispute(
            id=dispute_id,
            topup_id=topup.id,
            holder_id=holder.id,
            amount_cents=amount,
            from_purse_cents=from_purse,
            debt_cents=debt,
            status=str(dispute.get("status") or "needs_response")[:24],
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()
    audit.record(
        session, SYSTEM, "payments.dispute", f"holder:{holder.pseudonym}",
        reason=f"{dispute_id}: {amount} cents taken back, {debt} below zero",
    )  # fmt: skip
    return "applied", f"{from_purse} from the purse, {debt} as debt"


def on_closed(session: Session, settings: Settings, dispute: dict[str, Any]) -> topups.Outcome:
    dispute_id = str(dispute.get("id") or "")
    row = session.get(Dispute, dispute_id, with_for_update=True)
    if row is None:
        outcome = on_created(session, settings, dispute)
        if outcome[0] != "applied":
            return outcome
        row = session.get(Dispute, dispute_id)
        assert row is not None
    status = str(dispute.get("status") or "")[:24]
    if row.status == "won" or status != "won":
        row.status, row.updated_at = status or row.status, utcnow()
        return "applied", f"dispute {status}"
    holder = session.get(Holder, row.holder_id)
    assert holder is not None
    request = TransferRequest(
        accounts.transfer_id("dispute", dispute_id, "won"),
        accounts.clearing(session),
        debts.purse_of(session, holder),
        row.amount_cents,
        accounts.DISPUTE_WON,
        dispute_id,
    )
    result = ledger.create_transfers(session, [request])[0]
    if not result.ok:
        raise TransferRejected(result.result, result.id)
    row.status, row.updated_at = "won", utcnow()
    if not result.replayed:
        debts.settle(session, holder, request.id)
    return "applied", "dispute won: the amount is back in the purse"
