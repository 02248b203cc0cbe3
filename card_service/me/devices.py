"""Mobile credential issuance: a holder registers a phone's Ed25519 key, the city signs a
credential for it (card_service.protocol.mobile), and validators check the phone's QR tokens
offline against the city's issuing keys."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.cards.issuing import ISSUING_KEY_ID, keystore_for
from card_service.config import Settings
from card_service.me.errors import DeviceKeyInvalid, DeviceKeyTaken
from card_service.me.models import MobileDevice
from card_service.me.service import own_card
from card_service.protocol.mobile import MobileCredential
from card_service.staff.roles import utcnow


@dataclass(frozen=True)
class IssuedCredential:
    credential: bytes
    issuer_key_id: int
    expires_at: datetime


def credential_pseudonym(pseudonym: str) -> bytes:
    """The 16 bytes a credential carries for a holder: derived from the pseudonym, never the person."""
    return hashlib.sha256(b"mobile credential pseudonym|" + pseudonym.encode()).digest()[:16]


def register_device(
    session: Session, settings: Settings, actor: Actor, card_id: int | None, public_key: bytes
) -> IssuedCredential:
    """Register the device key for the signed-in holder and sign a credential for it.

    Registering the same key again renews its credential; a key of another holder is refused.
    """
    _card, holder = own_card(session, card_id)
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise DeviceKeyInvalid("a device key is a raw Ed25519 public key of 32 bytes") from exc
    now = utcnow()
    expires = now + timedelta(days=settings.mobile_credential_days)
    device = session.scalars(
        select(MobileDevice).where(MobileDevice.public_key == public_key)
    ).one_or_none()
    if device is not None and device.holder_id != holder.id:
        raise DeviceKeyTaken("this device key belongs to another holder")
    if device is None:
        device = MobileDevice(holder_id=holder.id, public_key=public_key, registered_at=now)
        session.add(device)
    device.expires_at = expires
    keys = keystore_for(settings)
    credential = MobileCredential(
        ISSUING_KEY_ID, credential_pseudonym(holder.pseudonym), public_key, int(expires.timestamp())
    ).sign(keys.issuer_key(ISSUING_KEY_ID))
    session.flush()
    audit.record(session, actor, "device.register", f"holder:{holder.pseudonym}", reason="self")
    return IssuedCredential(credential, ISSUING_KEY_ID, expires)
