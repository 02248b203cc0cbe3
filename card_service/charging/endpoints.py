"""Finance routes: each service's day (uses, revenue, concession cost by category), accounts."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from card_service.api.auth import Allow, Principal
from card_service.api.deps import DbSession
from card_service.charging import report
from card_service.charging.accounts import CONCESSION, REVENUE
from card_service.charging.schemas import ServiceDay
from card_service.ledger.models import Account
from card_service.staff.roles import Role

router = APIRouter(prefix="/v1/finance", tags=["finance"])
Finance = Annotated[Principal, Depends(Allow(Role.FINANCE))]


class AccountLine(BaseModel):
    code: str
    kind: str
    balance_cents: int  # credits less debits: revenue is positive, a concession budget negative


@router.get("/services/daily")
def services_daily(
    day: date, session: DbSession, who: Finance, service: str | None = None
) -> list[ServiceDay]:
    """Per service for one city day: uses, revenue (full price), concession cost by category."""
    return report.daily(session, day, service)


@router.get("/services/accounts")
def service_accounts(session: DbSession, who: Finance) -> list[AccountLine]:
    """The services' revenue accounts and the concession budgets, with their balances."""
    rows = session.scalars(
        select(Account).where(Account.kind.in_((REVENUE, CONCESSION))).order_by(Account.code)
    )
    return [
        AccountLine(code=a.code, kind=a.kind, balance_cents=a.credits_posted - a.debits_posted)
        for a in rows
    ]
