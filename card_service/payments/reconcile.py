"""Reconciliation: every euro Stripe moved on a day against the ledger's clearing entries.

Stripe's side is its balance transactions (a charge +, a refund -, a dispute -), grouped by their
``source`` (``ch_``, ``re_``, ``dp_``). The ledger's side is the entries of ``stripe_clearing``,
whose ``user_data`` names the same Stripe object (a debit +, a credit -). For each object seen
on either side that day: the same sum is a match; one side only is missing on the other; both
with different sums differ. An object whose two sides fall on adjacent days (a payment at
23:59:59 whose webhook came at 00:00:01) matches over the three days around it and is listed as
a timing difference, which is not an error. Stripe's fees are reported, not matched: the ledger
books gross amounts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from card_service.config import Settings
from card_service.ledger import service as ledger
from card_service.payments import accounts, gateway

NS = 1_000_000_000


@dataclass(frozen=True)
class Line:
    source: str
    stripe_cents: int | None
    ledger_cents: int | None
    kind: str  # charge, refund, adjustment...; "ledger" when only the ledger knows it


@dataclass
class Report:
    day: date
    matched: list[Line] = field(default_factory=list)
    timing: list[Line] = field(default_factory=list)
    missing_in_ledger: list[Line] = field(default_factory=list)
    missing_in_stripe: list[Line] = field(default_factory=list)
    differs: list[Line] = field(default_factory=list)
    stripe_total_cents: int = 0
    ledger_total_cents: int = 0
    fees_cents: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing_in_ledger or self.missing_in_stripe or self.differs)

    def as_dict(self) -> dict[str, Any]:
        def lines(items: list[Line]) -> list[dict[str, Any]]:
            return [vars(i) for i in items]

        return {
            "date": self.day.isoformat(),
            "ok": self.ok,
            "matched": lines(self.matched),
            "timing": lines(self.timing),
            "missing_in_ledger": lines(self.missing_in_ledger),
            "missing_in_stripe": lines(self.missing_in_stripe),
            "differs": lines(self.differs),
            "stripe_total_cents": self.stripe_total_cents,
            "ledger_total_cents": self.ledger_total_cents,
            "fees_cents": self.fees_cents,
        }


def day_bounds(day: date, tz: str) -> tuple[int, int]:
    """[start, end) of a business day in Unix seconds."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time.min, zone)
    end = datetime.combine(day + timedelta(days=1), time.min, zone)
    return int(start.timestamp()), int(end.timestamp())


class _Side:
    def __init__(self) -> None:
        self.total: dict[str, int] = defaultdict(int)  # over the three days
        self.day: dict[str, int] = defaultdict(int)  # on the day itself
        self.kind: dict[str, str] = {}

    def add(self, source: str, cents: int, when: int, lo: int, hi: int, kind: str) -> None:
        self.total[source] += cents
        self.kind.setdefault(source, kind)
        if lo <= when < hi:
            self.day[source] += cents


def _ledger_side(session: Session, lo: int, hi: int, wide: tuple[int, int]) -> _Side:
    side = _Side()
    clearing = accounts.existing_id(session, accounts.STRIPE_CLEARING)
    if clearing is None:
        return side
    for entry in ledger.history(
        session, clearing, limit=10_000_000, from_ts=wide[0] * NS, to_ts=wide[1] * NS
    ):
        cents = entry.posted_delta if entry.is_debit else -entry.posted_delta
        source = entry.user_data or f"transfer:{entry.transfer_id}"
        side.add(source, cents, entry.timestamp // NS, lo, hi, "ledger")
    return side


def _stripe_side(settings: Settings, lo: int, hi: int, wide: tuple[int, int]) -> tuple[_Side, int]:
    side, fees = _Side(), 0
    for txn in gateway.balance_transactions(settings, wide[0], wide[1]):
        source = gateway.object_id(txn.get("source")) or str(txn["id"])
        created = int(txn["created"])
        side.add(source, int(txn["amount"]), created, lo, hi, str(txn.get("type") or ""))
        if lo <= created < hi:
            fees += int(txn.get("fee") or 0)
    return side, fees


def reconcile(session: Session, settings: Settings, day: date) -> Report:
    lo, hi = day_bounds(day, settings.payments_timezone)
    wide = (lo - 86_400, hi + 86_400)
    stripe_side, fees = _stripe_side(settings, lo, hi, wide)
    ledger_side = _ledger_side(session, lo, hi, wide)
    report = Report(day, fees_cents=fees)
    for source in sorted(set(stripe_side.day) | set(ledger_side.day)):
        in_stripe, in_ledger = source in stripe_side.total, source in ledger_side.total
        s_day = stripe_side.day.get(source, 0)
        l_day = ledger_side.day.get(source, 0)
        kind = stripe_side.kind.get(source) or ledger_side.kind.get(source, "ledger")
        line = Line(
            source,
            stripe_side.total[source] if in_stripe else None,
            ledger_side.total[source] if in_ledger else None,
            kind,
        )
        report.stripe_total_cents += s_day
        report.ledger_total_cents += l_day
        if not in_ledger:
            report.missing_in_ledger.append(line)
        elif not in_stripe:
            report.missing_in_stripe.append(line)
        elif s_day == l_day and source in stripe_side.day and source in ledger_side.day:
            report.matched.append(Line(source, s_day, l_day, kind))
        elif stripe_side.total[source] == ledger_side.total[source]:
            report.timing.append(line)
        else:
            report.differs.append(line)
    return report
