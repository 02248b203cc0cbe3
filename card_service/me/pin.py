"""A citizen changes their own PIN: the current PIN first, counted like a sign-in.

A wrong current PIN counts toward the same three-failure block as signing in (so a session left
open cannot be used to guess the PIN); the failure count is committed before the error answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from card_service.api.auth import AppSettings, Citizen
from card_service.api.problems import DomainError
from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.cards import service as cards
from card_service.cards.errors import PinBlocked
from card_service.db import transaction
from card_service.me.service import check_pin, own_card
from card_service.staff.roles import utcnow

router = APIRouter()


class PinChangeIn(BaseModel):
    old_pin: str = Field(max_length=12)
    new_pin: str = Field(pattern=r"^\d{4,6}$")


def change_pin(
    session: Session,
    actor: Actor,
    card_id: int | None,
    old_pin: str,
    new_pin: str,
    max_failures: int,
) -> DomainError | None:
    """Change the PIN, or return the error to raise once this transaction is committed."""
    card, _holder = own_card(session, card_id)
    session.refresh(card, with_for_update=True)
    target = f"card:{card.number}"
    if card.pin_failures == cards.PIN_BLOCKED or card.pin_hash is None:
        return PinBlocked("the PIN is blocked: a clerk can reset it")
    error = check_pin(session, card, old_pin, max_failures)
    if error is not None:
        audit.record(session, actor, "card.pin_change", target, outcome="failed", reason=error.code)
        return error
    card.pin_hash, card.pin_failures, card.updated_at = cards.pins.hash(new_pin), 0, utcnow()
    session.flush()
    audit.record(session, actor, "card.pin_change", target, reason="self")
    return None


@router.post("/pin", status_code=204)
def change_own_pin(body: PinChangeIn, request: Request, settings: AppSettings, me: Citizen) -> None:
    """Change one's own PIN (the current PIN is checked and counted like a sign-in)."""
    with transaction(request.app.state.sessionmaker) as session:
        error = change_pin(
            session, me.actor, me.card_id, body.old_pin, body.new_pin, settings.pin_max_failures
        )
    if error is not None:
        raise error
