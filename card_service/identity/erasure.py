"""Erasure (GDPR art. 17) by crypto-shredding: the holder's data key is destroyed.

The ledger keeps its rows (the purse is named by the pseudonym, which identifies no one once the
key is gone), the audit trail keeps its chain (it never held personal data), and ``verify`` on
both stays clean. Cards are revoked and put on the deny list; sessions are closed.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.cards import service as cards
from card_service.identity import names
from card_service.identity import service as holders
from card_service.identity.models import DataKey, Evidence
from card_service.staff.errors import Forbidden
from card_service.staff.roles import Role, utcnow
from card_service.staff.sessions import close_for_cards


def erase(session: Session, actor: Actor, pseudonym: str, reason: str) -> None:
    if actor.role != Role.SUPERVISOR:
        raise Forbidden("only a supervisor erases a holder")
    holder = holders.get_live(session, pseudonym, lock=True)
    own_cards = cards.cards_of(session, holder.id)
    for card in own_cards:
        if card.status in ("requested", "active", "blocked"):
            cards.revoke(session, actor, card.number, "holder erased")
        card.pin_hash = None
    close_for_cards(session, [c.id for c in own_cards])
    session.execute(delete(Evidence).where(Evidence.holder_id == holder.id))
    session.execute(delete(DataKey).where(DataKey.holder_id == holder.id))
    names.forget(session, holder.id)
    holder.pii = None
    holder.national_id_hash = None
    holder.status = "erased"
    holder.erased_at = holder.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "holder.erase", f"holder:{pseudonym}", reason=reason)
