"""The answers a service may get: minimal by default, personal fields only by name in its policy.

An unknown, blocked or expired card is simply "not valid": the answer does not say which, and no
personal field is disclosed about a card that is not valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from card_service.cards.models import Card
from card_service.charging.errors import CardNotValid
from card_service.charging.models import Charge
from card_service.entitlements.errors import CategoryUnknown
from card_service.entitlements.service import categories_at
from card_service.identity import service as holders
from card_service.identity.crypto import Keyring
from card_service.identity.models import DataKey, Holder
from card_service.protocol import fees
from card_service.protocol.fees import FareRules
from card_service.services_api.policy import Disclosure
from card_service.services_api.schemas import CardAnswer, UsageItem
from card_service.staff.roles import aware


@dataclass(frozen=True, slots=True)
class CardHolder:
    """A valid card's holder as one query reads it: enough to answer without another read."""

    holder_id: int
    pseudonym: str
    kind: str
    pii: bytes | None
    key_id: bytes | None
    wrapped: bytes | None

    def personal(self, ring: Keyring) -> dict[str, Any]:
        if self.pii is None or self.key_id is None or self.wrapped is None:
            return {}  # erased
        return holders.open_personal(ring, self.pseudonym, self.pii, self.key_id, self.wrapped)

    def birth_date(self, ring: Keyring) -> date | None:
        raw = self.personal(ring).get("date_of_birth") if self.kind == "person" else None
        return date.fromisoformat(raw) if isinstance(raw, str) else None


# Built once, in Core: every question reads the card, its holder and the data key in one go.
_CARD, _HOLDER, _KEY = Card.__table__.c, Holder.__table__.c, DataKey.__table__.c
_CARD_HOLDER = (
    select(
        _CARD.status,
        _CARD.expires_on,
        _HOLDER.id,
        _HOLDER.pseudonym,
        _HOLDER.kind,
        _HOLDER.status,
        _HOLDER.pii,
        _KEY.key_id,
        _KEY.wrapped,
    )
    .select_from(
        Card.__table__.join(Holder.__table__, _HOLDER.id == _CARD.holder_id).outerjoin(
            DataKey.__table__, _KEY.holder_id == _HOLDER.id
        )
    )
    .where(_CARD.number == bindparam("number"))
)


def valid_holder(session: Session, number: str, at: datetime, tz: ZoneInfo) -> CardHolder | None:
    """The card's holder when the card is valid and active at ``at``; else None."""
    row = session.connection().execute(_CARD_HOLDER, {"number": number}).one_or_none()
    if row is None:
        return None
    status, expires_on, holder_id, pseudonym, kind, holder_status, pii, key_id, wrapped = row
    if status != "active" or expires_on < at.astimezone(tz).date() or holder_status != "active":
        return None
    return CardHolder(holder_id, pseudonym, kind, pii, key_id, wrapped)


def require_valid(session: Session, number: str, at: datetime, tz: ZoneInfo) -> CardHolder:
    found = valid_holder(session, number, at, tz)
    if found is None:
        raise CardNotValid("this card is not valid and active")
    return found


def card_status(
    session: Session,
    ring: Keyring,
    number: str,
    fields: list[Disclosure],
    at: datetime,
    tz: ZoneInfo,
) -> CardAnswer:
    found = valid_holder(session, number, at, tz)
    answer = CardAnswer(card=number, valid=found is not None)
    if found is None or not fields:
        return answer
    personal = found.personal(ring)
    if "birth_date" in fields and personal.get("date_of_birth"):
        answer.birth_date = date.fromisoformat(personal["date_of_birth"])
    if "name" in fields:
        answer.name = personal.get("legal_name") or " ".join(
            p for p in (personal.get("given_names"), personal.get("surnames")) if p
        )
    if "address" in fields and isinstance(personal.get("address"), dict):
        answer.address = {
            k: (str(v) if v is not None else None) for k, v in personal["address"].items()
        }
    if "residence_status" in fields:
        answer.residence_status = personal.get("residence_status")
    return answer


def entitled(
    session: Session,
    ring: Keyring,
    rules: FareRules,
    number: str,
    category: str,
    at: datetime,
    tz: ZoneInfo,
) -> bool:
    """In ``category`` at ``at``: a proof-based grant that applies, or the age for it."""
    kind = rules.categories.get(category)
    if kind is None:
        raise CategoryUnknown(f"no category {category!r} in the catalogue in force")
    found = valid_holder(session, number, at, tz)
    if found is None:
        return False
    if kind.kind == "proof":
        return category in categories_at(session, found.holder_id, at)
    rider = fees.Rider(birth_date=found.birth_date(ring), categories=frozenset())
    return category in fees.categories_at(rules, rider, at)


def usage(
    session: Session, service: str, number: str, since: datetime, limit: int
) -> list[UsageItem]:
    """The charges ``service`` made to this card's holder, newest first; never another's."""
    holder_id = session.scalar(select(Card.holder_id).where(Card.number == number))
    if holder_id is None:
        return []
    rows = session.scalars(
        select(Charge)
        .where(Charge.holder_id == holder_id, Charge.service == service, Charge.at >= since)
        .order_by(Charge.at.desc())
        .limit(limit)
    )
    return [
        UsageItem(
            id=c.ref,
            product=c.product,
            quantity=c.quantity,
            price_cents=c.holder_cents,
            at=aware(c.at),
            status=c.status,
        )
        for c in rows
    ]


DEFAULT_USAGE_DAYS = timedelta(days=31)
