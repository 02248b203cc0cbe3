"""Per service and day: uses, revenue (full price), what holders paid, concession cost by category.

Read from the charges table, whose every ``ok`` row has its ledger transfers; the revenue account
of a service is credited exactly ``revenue_cents`` by these charges.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from card_service.charging.models import Charge
from card_service.charging.schemas import CategoryCost, ServiceDay


def daily(session: Session, day: date, service: str | None = None) -> list[ServiceDay]:
    ok = Charge.status == "ok"
    stmt = (
        select(
            Charge.service,
            Charge.concession_category,
            func.sum(case((ok, 1), else_=0)),
            func.sum(case((ok, 0), else_=1)),
            func.coalesce(func.sum(case((ok, Charge.price_cents), else_=0)), 0),
            func.coalesce(func.sum(case((ok, Charge.holder_cents), else_=0)), 0),
            func.coalesce(func.sum(case((ok, Charge.concession_cents), else_=0)), 0),
        )
        .where(Charge.day == day)
        .group_by(Charge.service, Charge.concession_category)
        .order_by(Charge.service, Charge.concession_category)
    )
    if service is not None:
        stmt = stmt.where(Charge.service == service)
    out: dict[str, ServiceDay] = {}
    for svc, category, uses, refused, price, holder, concession in session.execute(stmt):
        row = out.setdefault(svc, ServiceDay(
            service=svc, day=day, uses=0, refused=0, revenue_cents=0, holder_cents=0,
            concession_cents=0, concessions=[],
        ))  # fmt: skip
        row.uses += int(uses)
        row.refused += int(refused)
        row.revenue_cents += int(price)
        row.holder_cents += int(holder)
        row.concession_cents += int(concession)
        if category is not None and int(uses):
            row.concessions.append(
                CategoryCost(category=category, uses=int(uses), cost_cents=int(concession))
            )
    return list(out.values())
