"""Card routes for the clerk desk (supervisor-only ones say so)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from card_service.api.auth import AppSettings, Desk, SupervisorOnly
from card_service.api.deps import DbSession
from card_service.cards import service
from card_service.cards.schemas import (
    ActivateIn,
    BlockIn,
    CardOut,
    IssueIn,
    PinIn,
    ReasonIn,
    ReplaceIn,
)

router = APIRouter(prefix="/v1", tags=["cards"])


@router.post("/holders/{holder_id}/cards", status_code=201)
def issue(
    holder_id: str, body: IssueIn, session: DbSession, settings: AppSettings, who: Desk
) -> CardOut:
    card = service.issue(
        session,
        who.actor,
        holder_id,
        chip_uid=body.chip_uid,
        pin=body.pin,
        today=date.today(),
        validity_years=settings.card_validity_years,
    )
    return service.view(session, card)


@router.get("/holders/{holder_id}/cards")
def holder_cards(holder_id: str, session: DbSession, who: Desk) -> list[CardOut]:
    from card_service.identity.service import get

    holder = get(session, holder_id)
    return [service.view(session, c) for c in service.cards_of(session, holder.id)]


@router.get("/cards/{number}")
def read(number: str, session: DbSession, who: Desk) -> CardOut:
    return service.view(session, service.get(session, number))


@router.post("/cards/{number}/activate")
def activate(number: str, body: ActivateIn, session: DbSession, who: Desk) -> CardOut:
    return service.view(session, service.activate(session, who.actor, number, body.chip_uid))


@router.post("/cards/{number}/block")
def block(number: str, body: BlockIn, session: DbSession, who: Desk) -> CardOut:
    return service.view(session, service.block(session, who.actor, number, body.reason))


@router.post("/cards/{number}/unblock")
def unblock(number: str, session: DbSession, who: SupervisorOnly) -> CardOut:
    """A found card comes back into use (supervisor only)."""
    return service.view(session, service.unblock(session, who.actor, number, date.today()))


@router.post("/cards/{number}/replace", status_code=201)
def replace(
    number: str, body: ReplaceIn, session: DbSession, settings: AppSettings, who: Desk
) -> CardOut:
    card = service.replace(
        session,
        who.actor,
        number,
        chip_uid=body.chip_uid,
        pin=body.pin,
        today=date.today(),
        validity_years=settings.card_validity_years,
    )
    return service.view(session, card)


@router.post("/cards/{number}/renew", status_code=201)
def renew(
    number: str, body: ReplaceIn, session: DbSession, settings: AppSettings, who: Desk
) -> CardOut:
    card = service.renew(
        session,
        who.actor,
        number,
        chip_uid=body.chip_uid,
        today=date.today(),
        validity_years=settings.card_validity_years,
        window_days=settings.card_renewal_window_days,
    )
    return service.view(session, card)


@router.post("/cards/{number}/revoke")
def revoke(number: str, body: ReasonIn, session: DbSession, who: SupervisorOnly) -> CardOut:
    return service.view(session, service.revoke(session, who.actor, number, body.reason))


@router.post("/cards/{number}/pin")
def reset_pin(number: str, body: PinIn, session: DbSession, who: Desk) -> CardOut:
    """Set a new PIN and clear a PIN block (the citizen is at the desk)."""
    return service.view(session, service.reset_pin(session, who.actor, number, body.pin))
