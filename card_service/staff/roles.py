"""Staff roles, and what time it is (aware UTC; SQLite hands back naive datetimes)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum


class Role(StrEnum):
    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    FINANCE = "finance"


DESK = (Role.CLERK, Role.SUPERVISOR)
# Payments: who refunds a holder's balance at the desk, who reconciles Stripe with the ledger.
REFUND_DESK = (Role.CLERK, Role.SUPERVISOR)
FINANCE_DESK = (Role.FINANCE,)


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
