"""Cap true-up: whatever the validators saw offline, a holder pays no more than a service's daily
and weekly caps.

A validator counts towards a cap what it saw itself and the card's last tap (ADR 0008), so a day
whose boardings were spread over several buses can pay more than the cap. After settlement the
back office adds up, per holder, service and service day (the catalogue's ``day_starts``, e.g.
04:30), what the holder paid for the service's capped products: settled taps and online charges.
What passed the daily cap, and then what the capped days together passed the weekly cap, is
refunded to the holder's purse from the service's revenue.

Each run recomputes from what is settled, so taps uploaded late (a validator back from three
weeks offline) are counted at the next run. A refund is a ledger transfer whose id is derived from
the holder, service, period and what was refunded for it before: two runs over the same state
write it once, and it is recorded in ``terminals_cap_refunds`` in the same transaction. Nothing
is ever taken back: what a holder paid only grows, so what is due only grows.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from card_service.catalogue.errors import CatalogueNotLoaded
from card_service.catalogue.service import in_force
from card_service.charging.models import Charge
from card_service.identity.models import Holder
from card_service.ledger.schemas import MAX_BATCH, TransferRequest
from card_service.ledger.service import create_transfers
from card_service.protocol.fees.engine import period_starts
from card_service.protocol.fees.rules import FareRules, Service
from card_service.terminals.models import CapRefund, SettledTap
from card_service.terminals.postings import KINDS, account_ids, revenue_code
from card_service.terminals.settlement import cards_by_uid
from card_service.terminals.sql import is_postgres

log = logging.getLogger(__name__)
REFUND_CODE = "cap_refund"
NAMESPACE = uuid.UUID("3c0f6a52-9d1e-5b7a-8e44-0b9d6c2f7a13")
LOOKBACK_DAYS = 22  # a validator refuses taps past 21 days without a snapshot


@dataclass(frozen=True, slots=True)
class Refund:
    purse_account_id: int
    service: str
    period: str  # "day:2026-11-23" or "week:2026-11-23" (the week's Monday)
    amount_cents: int


def true_up(
    session: Session, now: datetime, days: int = LOOKBACK_DAYS, *, write: bool = True
) -> list[Refund]:
    """Refund what passed a cap in the service days of the last ``days`` days up to ``now``,
    and in the weeks they fall in; returns the refunds written by this call. Raises
    CatalogueNotLoaded when no catalogue is in force at ``now``. With ``write=False`` it only
    says what is due (on a read-only session: it takes no write lock)."""
    # One runner at a time on PostgreSQL (the ids alone already make a rerun harmless).
    if write and is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('terminals_cap_true_up'))"))
    current = in_force(session, now)
    today, _ = period_starts(current, now)
    _, first = period_starts(current, today - timedelta(days=days))
    refunds: list[Refund] = []
    weeks: _Weeks = {}
    day = first  # from the Monday of the oldest week, so that every week is counted whole
    while day <= today:
        rules = _rules_at(session, day)
        if rules is not None:
            refunds += _true_up_day(session, rules, day, weeks, write)
        day += timedelta(days=1)
    for (code, monday), (cap, kept) in weeks.items():
        if cap is not None:
            due = {p: cents - cap for p, cents in kept.items() if cents > cap}
            refunds += _refund(session, code, f"week:{monday}", due, write)
    return refunds


# (service, Monday) -> (the weekly cap, purse -> what its holder pays once the days are refunded)
_Weeks = dict[tuple[str, date], tuple[int | None, dict[int, int]]]


def _true_up_day(
    session: Session, rules: FareRules, day: datetime, weeks: _Weeks, write: bool
) -> list[Refund]:
    """Refund what passed each daily cap on the service day starting at ``day``, and add what
    the holders keep paying to their week."""
    refunds = []
    for svc in _capped(rules):
        paid = _paid(session, svc, day, day + timedelta(days=1))
        day_cap = svc.cap_day_cents
        if day_cap is not None:
            due = {p: cents - day_cap for p, cents in paid.items() if cents > day_cap}
            refunds += _refund(session, svc.code, f"day:{day.date()}", due, write)
        _, week_start = period_starts(rules, day)
        _, week = weeks.setdefault((svc.code, week_start.date()), (svc.cap_week_cents, {}))
        for p, cents in paid.items():
            week[p] = week.get(p, 0) + (cents if day_cap is None else min(cents, day_cap))
    return refunds


def _rules_at(session: Session, day: datetime) -> FareRules | None:
    try:
        return in_force(session, day)
    except CatalogueNotLoaded:  # before the first catalogue: nothing was charged by its rules
        return None


def _capped(rules: FareRules) -> list[Service]:
    return [
        s
        for s in rules.services.values()
        if s.capped and (s.cap_day_cents is not None or s.cap_week_cents is not None)
    ]


def _paid(session: Session, svc: Service, start: datetime, end: datetime) -> dict[int, int]:
    """Purse account -> what its holder paid for the service's capped products in [start, end)."""
    products = sorted(svc.capped)
    taps = session.execute(
        select(SettledTap.card_uid, func.sum(SettledTap.holder_cents))
        .where(
            SettledTap.tap_time >= int(start.timestamp()),
            SettledTap.tap_time < int(end.timestamp()),
            SettledTap.outcome == "settled",
            SettledTap.service == svc.code,
            SettledTap.product.in_(products),
        )
        .group_by(SettledTap.card_uid)
    ).all()
    paid: dict[int, int] = defaultdict(int)
    purses = cards_by_uid(session, {uid for uid, _ in taps if uid is not None})
    for uid, cents in taps:
        purse = purses.get(uid, (0, None))[1] if uid is not None else None
        if purse is not None and cents:
            paid[purse] += int(cents)
    charges = session.execute(
        select(Holder.purse_account_id, func.sum(Charge.holder_cents))
        .join(Holder, Holder.id == Charge.holder_id)
        .where(
            Charge.day.in_([start.date(), end.date()]),  # calendar days the service day spans
            Charge.service == svc.code,
            Charge.status == "ok",
            Charge.product.in_(products),
            Charge.at >= start,
            Charge.at < end,
        )
        .group_by(Holder.purse_account_id)
    ).all()
    for purse, cents in charges:
        if purse is not None and cents:
            paid[int(purse)] += int(cents)
    return paid


def _refund(
    session: Session,
    service: str,
    period: str,
    due: dict[int, int],
    write: bool,
) -> list[Refund]:
    """Refund what is due per purse, less what was refunded for this period before."""
    if not due:
        return []
    rows = session.execute(
        select(CapRefund.purse_account_id, func.sum(CapRefund.amount_cents))
        .where(CapRefund.service == service, CapRefund.period == period)
        .group_by(CapRefund.purse_account_id)
    )
    refunded: dict[int, int] = defaultdict(int, {int(p): int(c) for p, c in rows})
    out = [
        Refund(p, service, period, cents - refunded[p])
        for p, cents in sorted(due.items())
        if cents > refunded[p]
    ]
    if not out or not write:
        return out
    code = revenue_code(service)
    revenue = account_ids(session, [code], KINDS)[code]
    requests = [
        TransferRequest(
            _refund_id(r, refunded[r.purse_account_id]),
            revenue,
            r.purse_account_id,
            r.amount_cents,
            REFUND_CODE,
            user_data=f"{service} {period}",
        )
        for r in out
    ]
    results = [
        result
        for i in range(0, len(requests), MAX_BATCH)
        for result in create_transfers(session, requests[i : i + MAX_BATCH])
    ]
    written = []
    for r, req, res in zip(out, requests, results, strict=True):
        if not res.ok:  # kept by the ledger: the next run asks again under the same id
            log.warning("cap refund %s to purse %s refused: %s", period, r.purse_account_id, res)
        elif not res.replayed:
            session.add(
                CapRefund(
                    transfer_id=req.id,
                    service=service,
                    period=period,
                    purse_account_id=r.purse_account_id,
                    amount_cents=r.amount_cents,
                )
            )
            written.append(r)
    session.flush()
    return written


def _refund_id(refund: Refund, refunded_before: int) -> uuid.UUID:
    """The same state gives the same id, so two runs write a refund once."""
    name = f"{refund.purse_account_id}:{refund.service}:{refund.period}:{refunded_before}"
    return uuid.uuid5(NAMESPACE, name)
