"""Payments at the desk (refunds for a holder), at kiosks (cash), and for finance."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from card_service.api.auth import Allow, AppSettings, Desk, Principal
from card_service.api.deps import DbSession
from card_service.identity import service as holders
from card_service.payments import kiosk, refunds
from card_service.payments.kiosk_auth import SignedKiosk
from card_service.payments.overview import overview
from card_service.payments.reconcile import reconcile
from card_service.payments.router import router
from card_service.payments.schemas import (
    CashIn,
    CashOut,
    CloseDayIn,
    ClosingOut,
    DeskRefundIn,
    PaymentsOverview,
    RefundOut,
)
from card_service.staff.roles import FINANCE_DESK, REFUND_DESK, Role

# Cash paid in is signed by the kiosk itself (kiosk_auth); closing its day is a person's count.
CashCounter = Annotated[Principal, Depends(Allow(Role.CLERK, Role.SUPERVISOR))]
Refunder = Annotated[Principal, Depends(Allow(*REFUND_DESK))]
Finance = Annotated[Principal, Depends(Allow(*FINANCE_DESK))]


@router.get("/v1/holders/{holder_id}/payments")
def holder_payments(holder_id: str, session: DbSession, who: Desk) -> PaymentsOverview:
    """A holder's balance, top-ups, refunds and auto top-up, for the desk."""
    return overview(session, holders.get(session, holder_id))


@router.post("/v1/holders/{holder_id}/refunds", status_code=201)
def refund_holder(
    holder_id: str, body: DeskRefundIn, request: Request, settings: AppSettings, who: Refunder
) -> list[RefundOut]:
    """Refund a holder's unused balance to their payments, newest first (amount omitted: all)."""
    factory = request.app.state.sessionmaker
    with factory() as s:
        holder = holders.get_live(s, holder_id)
    rows = refunds.request(
        factory, settings, who.actor, holder.id, body.request_id, body.amount_cents, "clerk",
        note=body.reason,
    )  # fmt: skip
    return [RefundOut.of(r) for r in rows]


def _today(settings: Any) -> date:
    return datetime.now(ZoneInfo(settings.payments_timezone)).date()


@router.post("/v1/kiosks/{kiosk_id}/cash-topups", status_code=201)
def cash_topup(
    kiosk_id: str, body: CashIn, session: DbSession, settings: AppSettings, who: SignedKiosk
) -> CashOut:
    """Cash paid in at a kiosk (signed by that kiosk terminal): the purse is credited at once."""
    row, balance = kiosk.cash_topup(
        session, settings, who.actor, kiosk_id, body.request_id, body.card_number,
        body.amount_cents,
    )  # fmt: skip
    return CashOut(
        id=row.id, kiosk_id=kiosk_id, amount_cents=row.amount_cents, balance_cents=balance,
        at=row.at,
    )  # fmt: skip


@router.post("/v1/kiosks/{kiosk_id}/close-day", status_code=201)
def close_day(
    kiosk_id: str, body: CloseDayIn, session: DbSession, settings: AppSettings, who: CashCounter
) -> ClosingOut:
    """Close the kiosk's day with the cash counted; the answer says any difference."""
    closing = kiosk.close_day(
        session, who.actor, kiosk_id, body.request_id, body.counted_cents, _today(settings)
    )
    return ClosingOut.of(closing)


@router.get("/v1/kiosks/{kiosk_id}/closings")
def kiosk_closings(kiosk_id: str, session: DbSession, who: Finance) -> list[ClosingOut]:
    """A kiosk's closed days, newest first, with their differences."""
    return [ClosingOut.of(c) for c in kiosk.closings(session, kiosk_id)]


@router.get("/v1/payments/reconciliation")
def reconciliation(
    day: date, session: DbSession, settings: AppSettings, who: Finance
) -> dict[str, Any]:
    """Stripe's balance transactions of a day against the ledger's clearing entries."""
    return reconcile(session, settings, day).as_dict()
