"""Citizen self-service: sign in with card number and PIN, see the purse, block, GDPR access.

``sign_in`` returns an outcome rather than raising so that the caller commits the PIN failure
count (and its audit record) before answering with the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from card_service.api.problems import DomainError
from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.cards import service as cards
from card_service.cards.errors import (
    CardExpired,
    CardNotFound,
    CardStateInvalid,
    PinBlocked,
    PinWrong,
)
from card_service.cards.models import Card
from card_service.identity import service as holders
from card_service.identity.crypto import Keyring
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.staff.sessions import IssuedSession, open_session


@dataclass
class SignIn:
    error: DomainError | None = None
    session: IssuedSession | None = None


def check_pin(session: Session, card: Card, pin: str, max_failures: int) -> DomainError | None:
    """None when ``pin`` is the card's PIN; else count the failure (blocking the PIN at
    ``max_failures``) and return the error to answer once the count is committed."""
    assert card.pin_hash is not None
    try:
        cards.pins.verify(card.pin_hash, pin)
    except (VerificationError, InvalidHashError):
        card.pin_failures += 1
        error: DomainError = PinWrong(
            f"wrong PIN; {max_failures - card.pin_failures} attempts left"
        )
        if card.pin_failures >= max_failures:
            card.pin_failures = cards.PIN_BLOCKED
            error = PinBlocked("wrong PIN: the PIN is now blocked; a clerk can reset it")
        session.flush()
        return error
    return None


def sign_in(
    session: Session,
    number: str,
    pin: str,
    *,
    today: date,
    max_failures: int,
    minutes: int,
    request_id: str | None,
) -> SignIn:
    try:
        card = cards.get(session, number, lock=True)
    except CardNotFound as exc:
        return SignIn(error=exc)
    holder = session.get(Holder, card.holder_id)
    assert holder is not None
    actor = Actor("citizen", f"holder:{holder.pseudonym}", "citizen", request_id)
    target = f"card:{number}"
    if card.status != "active":
        return SignIn(error=CardStateInvalid(f"this card is {card.status}"))
    if card.expires_on < today:
        return SignIn(error=CardExpired("this card has expired"))
    if card.pin_failures == cards.PIN_BLOCKED:
        audit.record(
            session, actor, "citizen.sign_in", target, outcome="denied", reason="pin blocked"
        )
        return SignIn(error=PinBlocked("the PIN is blocked: a clerk can reset it"))
    if card.pin_hash is None:
        return SignIn(error=PinBlocked("no PIN is set for this card: a clerk can set one"))
    error = check_pin(session, card, pin, max_failures)
    if error is not None:
        audit.record(session, actor, "citizen.sign_in", target, outcome="failed", reason=error.code)
        return SignIn(error=error)
    card.pin_failures = 0
    issued = open_session(session, kind="citizen", minutes=minutes, card_id=card.id)
    audit.record(session, actor, "citizen.sign_in", target)
    return SignIn(session=issued)


def own_card(session: Session, card_id: int | None) -> tuple[Card, Holder]:
    card = session.get(Card, card_id) if card_id else None
    if card is None:
        raise CardNotFound("the session's card is gone")
    holder = session.get(Holder, card.holder_id)
    assert holder is not None
    return card, holder


def overview(session: Session, ring: Keyring, actor: Actor, card_id: int | None) -> dict[str, Any]:
    card, holder = own_card(session, card_id)
    personal = holders.personal_fields(session, ring, holder)
    audit.record(session, actor, "holder.read", f"holder:{holder.pseudonym}", reason="self")
    name = personal.get("given_names") or personal.get("legal_name")
    return {
        "holder_id": holder.pseudonym,
        "name": name,
        "card": cards.view(session, card).model_dump(mode="json"),
    }


def purse(session: Session, card_id: int | None) -> dict[str, Any]:
    _card, holder = own_card(session, card_id)
    return purse_of(session, holder)


def purse_of(session: Session, holder: Holder) -> dict[str, Any]:
    if holder.purse_account_id is None:
        return {"balance_cents": 0, "available_cents": 0}
    b = ledger.balance(session, holder.purse_account_id)
    # What the citizen may spend here and now: never the offline allowance below zero.
    return {"balance_cents": b.balance_cents, "available_cents": b.balance_cents - b.debits_pending}


def movements(session: Session, card_id: int | None, limit: int = 50) -> list[dict[str, Any]]:
    _card, holder = own_card(session, card_id)
    return _movements(session, holder, limit)


def _movements(session: Session, holder: Holder, limit: int) -> list[dict[str, Any]]:
    if holder.purse_account_id is None:
        return []
    return [
        {
            "transfer_id": str(h.transfer_id),
            "timestamp_ns": h.timestamp,
            "amount_cents": -h.posted_delta if h.is_debit else h.posted_delta,
            "pending_cents": -h.pending_delta if h.is_debit else h.pending_delta,
            "balance_after_cents": h.balance_after_cents,
            "code": h.code,
            "user_data": h.user_data,
        }
        for h in ledger.history(session, holder.purse_account_id, limit=limit)
    ]


def block_own(session: Session, actor: Actor, card_id: int | None, reason: str) -> Card:
    card, _holder = own_card(session, card_id)
    return cards.block(session, actor, card.number, reason)


def export(session: Session, ring: Keyring, actor: Actor, card_id: int | None) -> dict[str, Any]:
    """Everything held about the holder (GDPR art. 15), as one JSON document."""
    _card, holder = own_card(session, card_id)
    audit.record(session, actor, "holder.export", f"holder:{holder.pseudonym}")
    return holder_document(session, ring, holder)


def holder_document(session: Session, ring: Keyring, holder: Holder) -> dict[str, Any]:
    """The GDPR export of one holder, whoever asks for it (the citizen, or a clerk at the desk):
    personal data, cards, evidence, purse, every movement and the audit trail, the export's own
    record included (record it before calling this)."""
    own_cards = cards.cards_of(session, holder.id)
    evidence = holders.evidence_of(session, holder)
    targets = [f"holder:{holder.pseudonym}"] + [f"card:{c.number}" for c in own_cards]
    return {
        "holder": holders.view(holder, holders.personal_fields(session, ring, holder)).model_dump(
            mode="json"
        ),
        "cards": [cards.view(session, c).model_dump(mode="json") for c in own_cards],
        "evidence": [
            {
                "doc_type": e.doc_type,
                "checked_by": who,
                "checked_at": e.checked_at.isoformat(),
                "valid_until": e.valid_until.isoformat() if e.valid_until else None,
            }
            for e, who in evidence
        ],
        "purse": purse_of(session, holder),
        "movements": _movements(session, holder, 10_000),
        "audit_trail": [e.model_dump(mode="json") for e in audit.events_about(session, targets)],
    }
