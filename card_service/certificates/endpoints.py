"""Residence certificate routes: a citizen gets one (and its PDF); anyone verifies a code."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from card_service.api.auth import AppSettings, Citizen, PiiKeys
from card_service.api.deps import DbSession
from card_service.certificates import service
from card_service.certificates.pdf import certificate_pdf
from card_service.me.service import own_card

router = APIRouter(tags=["certificates"])


class CertificateIn(BaseModel):
    client_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class CertificateOut(BaseModel):
    serial: str
    code: str
    valid_until: date


@router.post("/v1/me/certificates/residence", status_code=201)
def issue(
    body: CertificateIn, session: DbSession, ring: PiiKeys, settings: AppSettings, me: Citizen
) -> CertificateOut:
    """A residence certificate for oneself (registered residents only)."""
    _card, holder = own_card(session, me.card_id)
    issued = service.issue(
        session, ring, me.actor, holder, body.client_id, settings.certificate_validity_days
    )
    return CertificateOut(
        serial=issued.certificate.serial,
        code=issued.code,
        valid_until=issued.certificate.valid_until,
    )


@router.get("/v1/me/certificates/{serial}.pdf")
def pdf(
    serial: str, session: DbSession, ring: PiiKeys, settings: AppSettings, me: Citizen
) -> Response:
    """One's certificate as a PDF, with its verification code and QR code."""
    _card, holder = own_card(session, me.card_id)
    issued = service.of_holder(session, ring, holder, serial)
    return Response(
        certificate_pdf(issued.content, issued.code, settings.certificate_verify_url),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{serial}.pdf"'},
    )


@router.get("/v1/certificates/verify")
def verify(session: DbSession, ring: PiiKeys, code: str = Query(max_length=32)) -> dict[str, Any]:
    """Check a residence certificate by its verification code (public)."""
    return service.verify(session, ring, code, date.today())
