"""What a holder (or the desk, for a holder) sees of their payments."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.identity.models import Holder
from card_service.payments import debts, refunds, topups
from card_service.payments.models import AutoTopUp, Refund
from card_service.payments.schemas import AutoTopUpOut, PaymentsOverview, RefundOut, TopUpOut


def overview(session: Session, holder: Holder, limit: int = 20) -> PaymentsOverview:
    now = debts.balances(session, holder)
    recent = topups.of_holder(session, holder.id, limit)
    given_back = session.scalars(
        select(Refund)
        .where(Refund.holder_id == holder.id)
        .order_by(Refund.created_at.desc())
        .limit(limit)
    )
    auto = session.get(AutoTopUp, holder.id)
    notices = []
    if now.debt_cents:
        notices.append(
            f"A payment was taken back by the bank: {now.debt_cents} cents are owed and the card "
            "is on the deny list until a top-up pays them."
        )
    if auto is not None and auto.disabled_reason:
        notices.append(auto.disabled_reason)
    failed = next((t for t in recent if t.kind == "online"), None)
    if failed is not None and failed.status == "failed":
        notices.append(f"Your last top-up failed: {failed.failure_message}")
    return PaymentsOverview(
        purse_cents=now.purse_cents,
        debt_cents=now.debt_cents,
        balance_cents=now.balance_cents,
        refundable_cents=refunds.refundable(session, holder).total_cents,
        topups=[TopUpOut.of(t) for t in recent],
        refunds=[RefundOut.of(r) for r in given_back],
        auto_topup=AutoTopUpOut.of(auto) if auto and auto.payment_method_id else None,
        notices=notices,
    )
