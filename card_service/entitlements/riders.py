"""What the fee engine knows of a holder at a moment: birth date and the grants that apply."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from card_service.entitlements.service import categories_at
from card_service.identity import service as holders
from card_service.identity.crypto import Keyring
from card_service.identity.models import Holder
from card_service.protocol.fees import Rider


def birth_date(session: Session, ring: Keyring, holder: Holder) -> date | None:
    """From the holder's sealed personal fields; None for organisations and erased holders."""
    if holder.kind != "person" or holder.status != "active":
        return None
    raw = holders.personal_fields(session, ring, holder).get("date_of_birth")
    return date.fromisoformat(raw) if isinstance(raw, str) else None


def rider_for(
    session: Session, ring: Keyring, holder: Holder, at: datetime, *, with_age: bool = True
) -> Rider:
    """The holder as the engine sees them at ``at``. ``with_age=False`` skips decrypting the
    birth date when the product has no age concession (the engine would not look at it)."""
    born = birth_date(session, ring, holder) if with_age else None
    return Rider(birth_date=born, categories=categories_at(session, holder.id, at))
