"""Citizen self-service routes (/v1/me): sign in with card and PIN, then act on one's own card."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from card_service.api.auth import AppSettings, Citizen, PiiKeys, RequestId
from card_service.api.deps import DbSession
from card_service.cards.schemas import BlockIn, CardOut
from card_service.cards.service import view
from card_service.db import transaction
from card_service.me import devices, pin, service
from card_service.me.errors import DeviceKeyInvalid
from card_service.staff.sessions import close

router = APIRouter(prefix="/v1/me", tags=["self-service"])
router.include_router(pin.router)


class SignInIn(BaseModel):
    card_number: str = Field(max_length=19)
    pin: str = Field(max_length=12)


class CitizenSessionOut(BaseModel):
    token: str
    expires_at: datetime


@router.post("/login")
def sign_in(
    body: SignInIn, request: Request, settings: AppSettings, rid: RequestId
) -> CitizenSessionOut:
    number = "".join(body.card_number.split())
    with transaction(request.app.state.sessionmaker) as session:
        out = service.sign_in(
            session,
            number,
            body.pin,
            today=date.today(),
            max_failures=settings.pin_max_failures,
            minutes=settings.citizen_session_minutes,
            request_id=rid,
        )
    if out.error:
        raise out.error
    assert out.session is not None
    return CitizenSessionOut(token=out.session.token, expires_at=out.session.expires_at)


@router.post("/logout", status_code=204)
def sign_out(session: DbSession, me: Citizen) -> None:
    close(session, me.token)


@router.get("")
def overview(session: DbSession, ring: PiiKeys, me: Citizen) -> dict[str, Any]:
    return service.overview(session, ring, me.actor, me.card_id)


@router.get("/balance")
def balance(session: DbSession, me: Citizen) -> dict[str, Any]:
    return service.purse(session, me.card_id)


@router.get("/movements")
def movements(session: DbSession, me: Citizen, limit: int = 50) -> list[dict[str, Any]]:
    return service.movements(session, me.card_id, max(1, min(limit, 500)))


@router.post("/card/block")
def block(body: BlockIn, session: DbSession, me: Citizen) -> CardOut:
    """Block one's own card (lost, stolen...): it goes on the deny list at once."""
    return view(session, service.block_own(session, me.actor, me.card_id, body.reason))


class DeviceIn(BaseModel):
    public_key: str = Field(description="the phone's raw Ed25519 public key, base64url")


class CredentialOut(BaseModel):
    credential: str = Field(description="the city-signed mobile credential, base64url")
    issuer_key_id: int
    expires_at: datetime


@router.post("/devices", status_code=201)
def register_device(
    body: DeviceIn, session: DbSession, settings: AppSettings, me: Citizen
) -> CredentialOut:
    """Register a phone for a mobile credential: its QR tokens then work at validators."""
    try:
        raw = base64.urlsafe_b64decode(body.public_key + "=" * (-len(body.public_key) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DeviceKeyInvalid("the device key is not base64url") from exc
    issued = devices.register_device(session, settings, me.actor, me.card_id, raw)
    return CredentialOut(
        credential=base64.urlsafe_b64encode(issued.credential).decode().rstrip("="),
        issuer_key_id=issued.issuer_key_id,
        expires_at=issued.expires_at,
    )


@router.get("/export")
def export(session: DbSession, ring: PiiKeys, me: Citizen) -> dict[str, Any]:
    """Everything held about the signed-in holder, as JSON (GDPR right of access)."""
    return service.export(session, ring, me.actor, me.card_id)
