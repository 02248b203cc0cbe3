"""Bearer sessions for staff and citizens: a random token, of which only the SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from card_service.staff.errors import SessionExpired
from card_service.staff.models import AuthSession
from card_service.staff.roles import aware, utcnow


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: datetime


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def open_session(
    session: Session,
    *,
    kind: str,
    minutes: int,
    staff_id: int | None = None,
    card_id: int | None = None,
) -> IssuedSession:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = AuthSession(
        token_hash=_hash(token),
        kind=kind,
        staff_id=staff_id,
        card_id=card_id,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(row)
    session.flush()
    return IssuedSession(token, row.expires_at)


def resolve(session: Session, token: str) -> AuthSession:
    """The live session for ``token``; unknown, revoked or past its expiry is SessionExpired."""
    row = session.scalars(
        select(AuthSession).where(AuthSession.token_hash == _hash(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None or aware(row.expires_at) <= utcnow():
        raise SessionExpired("the session has expired or was closed: sign in again")
    return row


def close(session: Session, token: str) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.token_hash == _hash(token))
        .values(revoked_at=utcnow())
    )


def close_for_cards(session: Session, card_ids: list[int]) -> None:
    if card_ids:
        session.execute(
            update(AuthSession)
            .where(AuthSession.card_id.in_(card_ids), AuthSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
