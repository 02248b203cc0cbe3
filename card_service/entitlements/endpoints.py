"""Grant routes for the desk: grant with evidence, the second person's approval, revoke, history."""

from __future__ import annotations

from fastapi import APIRouter, Request

from card_service.api.auth import AnyStaff, Desk
from card_service.api.deps import DbSession
from card_service.audit import service as audit
from card_service.catalogue.service import in_force
from card_service.db import transaction
from card_service.entitlements import categories, service
from card_service.entitlements.errors import GrantSelfApproval
from card_service.entitlements.schemas import CategoryOut, GrantIn, GrantOut, ReasonIn
from card_service.staff.roles import utcnow

router = APIRouter(tags=["entitlements"])


@router.get("/v1/entitlements/categories")
def list_categories(session: DbSession, who: AnyStaff) -> list[CategoryOut]:
    """The categories a grant may give, and which need a second person (free fares)."""
    cats = categories.of_rules(in_force(session, utcnow()))
    return [CategoryOut(code=c, free=c in cats.free) for c in sorted(cats.known)]


@router.post("/v1/holders/{holder_id}/grants", status_code=201)
def create_grant(holder_id: str, body: GrantIn, session: DbSession, who: Desk) -> GrantOut:
    """Give a holder a proof-based category, on evidence checked at the desk."""
    cats = categories.of_rules(in_force(session, utcnow()))
    grant = service.create(session, who.actor, holder_id, body, cats)
    return service.out(session, grant)


@router.get("/v1/holders/{holder_id}/grants")
def list_grants(holder_id: str, session: DbSession, who: Desk) -> list[GrantOut]:
    """Every grant of a holder, with its decisions (nothing is ever deleted)."""
    return service.grants_of(session, holder_id)


@router.get("/v1/grants/pending")
def pending_grants(session: DbSession, who: Desk, limit: int = 100) -> list[GrantOut]:
    """Free-fare grants waiting for a second person's approval, oldest first."""
    return service.pending(session, limit)


@router.post("/v1/grants/{grant_id}/approval")
def approve_grant(grant_id: int, request: Request, session: DbSession, who: Desk) -> GrantOut:
    """The second person's approval of a free-fare grant (never the granter's own)."""
    try:
        grant = service.approve(session, who.actor, grant_id)
    except GrantSelfApproval:
        # The refusal must outlive this request's rollback; end the request's transaction first
        # (on SQLite it holds the write lock the record needs).
        session.rollback()
        with transaction(request.app.state.sessionmaker) as side:
            audit.record(
                side,
                who.actor,
                "grant.approve",
                f"grant:{grant_id}",
                outcome="denied",
                reason="the granter may not approve their own grant",
            )
        raise
    return service.out(session, grant)


@router.post("/v1/grants/{grant_id}/rejection")
def reject_grant(grant_id: int, body: ReasonIn, session: DbSession, who: Desk) -> GrantOut:
    """Refuse a free-fare grant waiting for approval."""
    grant = service.reject(session, who.actor, grant_id, body.reason)
    return service.out(session, grant)


@router.post("/v1/grants/{grant_id}/revocation")
def revoke_grant(grant_id: int, body: ReasonIn, session: DbSession, who: Desk) -> GrantOut:
    """End a grant now, with a reason; it stays in the holder's history."""
    grant = service.revoke(session, who.actor, grant_id, body.reason)
    return service.out(session, grant)
