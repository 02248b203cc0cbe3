"""What the desk may read about one holder besides the holder page: the audit history (who
looked at or changed the holder and their cards) and the GDPR export (everything held, the
same document the citizen gets from ``/v1/me/export``). Both reads are themselves audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor, AuditEventOut
from card_service.cards.models import Card
from card_service.identity import names
from card_service.identity import service as holders
from card_service.identity.crypto import Keyring
from card_service.identity.schemas import NameMatchOut
from card_service.me import service as me

HISTORY_LIMIT = 500


def _targets(session: Session, holder_id: int, pseudonym: str) -> list[str]:
    numbers = session.scalars(select(Card.number).where(Card.holder_id == holder_id))
    return [f"holder:{pseudonym}"] + [f"card:{n}" for n in numbers]


def history(session: Session, actor: Actor, pseudonym: str) -> list[AuditEventOut]:
    """The holder's and their cards' audit events, newest first (the last 500)."""
    holder = holders.get(session, pseudonym)
    audit.record(session, actor, "holder.history", f"holder:{holder.pseudonym}")
    session.flush()
    found = audit.events_about(session, _targets(session, holder.id, holder.pseudonym))
    return list(reversed(found))[:HISTORY_LIMIT]


def export(session: Session, ring: Keyring, actor: Actor, pseudonym: str) -> dict[str, Any]:
    """Everything held about the holder (GDPR art. 15), for the holder asking at the desk."""
    holder = holders.get_live(session, pseudonym)
    audit.record(session, actor, "holder.export", f"holder:{holder.pseudonym}", reason="desk")
    return me.holder_document(session, ring, holder)


def search_by_name(session: Session, ring: Keyring, actor: Actor, name: str) -> list[NameMatchOut]:
    """The desk's find by name: each match with its name, birth year and live card."""
    matches = holders.search_by_name(session, ring, actor, name)
    live = {"requested", "active", "blocked"}
    card_of: dict[int, str] = {}
    ids = [m.holder.id for m in matches]
    for card in session.scalars(
        select(Card).where(Card.holder_id.in_(ids), Card.status.in_(live)).order_by(Card.id)
    ):
        card_of[card.holder_id] = card.number
    out = []
    for m in matches:
        born = m.personal.get("date_of_birth")
        out.append(
            NameMatchOut(
                holder_id=m.holder.pseudonym,
                kind=m.holder.kind,
                name=names.holder_name(m.personal).strip(),
                birth_year=int(str(born)[:4]) if born else None,
                card=card_of.get(m.holder.id),
            )
        )
    return out
