"""Audit routes: auditors search the trail and check its chain."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from card_service.api.auth import AuditorOnly
from card_service.api.deps import DbSession
from card_service.audit import service
from card_service.audit.schemas import AuditEventOut, VerifyReport

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/events")
def search(
    session: DbSession,
    who: AuditorOnly,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_position: int | None = None,
    limit: int = 100,
) -> list[AuditEventOut]:
    """Newest first. Searching is itself recorded."""
    q = service.AuditQuery(actor, action, target, outcome, since, until, before_position, limit)
    found = service.search(session, q)
    service.record(session, who.actor, "audit.search", target or actor or action or "*")
    return found


@router.get("/verify")
def verify(session: DbSession, who: AuditorOnly) -> VerifyReport:
    return service.verify(session)
