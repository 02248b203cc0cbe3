"""Holder routes for the clerk desk. Every read of personal data is audited by the service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from card_service.api.auth import Desk, PiiKeys, SupervisorOnly
from card_service.api.deps import DbSession
from card_service.audit.schemas import AuditEventOut
from card_service.identity import erasure, service, staff_access
from card_service.identity.schemas import (
    ContactUpdate,
    ErasureIn,
    EvidenceIn,
    EvidenceOut,
    HolderOut,
    LookupIn,
    NameMatchOut,
    NameSearchIn,
    OrganisationIn,
    PersonIn,
)

router = APIRouter(prefix="/v1/holders", tags=["holders"])


@router.post("/persons", status_code=201)
def create_person(body: PersonIn, session: DbSession, ring: PiiKeys, who: Desk) -> HolderOut:
    holder = service.create_person(session, ring, who.actor, body)
    return service.view(holder, None)


@router.post("/organisations", status_code=201)
def create_organisation(
    body: OrganisationIn, session: DbSession, ring: PiiKeys, who: Desk
) -> HolderOut:
    holder = service.create_organisation(session, ring, who.actor, body)
    return service.view(holder, None)


@router.post("/lookup")
def lookup(body: LookupIn, session: DbSession, ring: PiiKeys, who: Desk) -> HolderOut:
    """Find a holder by national id (in the body, so it never lands in an access log)."""
    return service.lookup(session, ring, who.actor, body.national_id)


@router.post("/search")
def search(body: NameSearchIn, session: DbSession, ring: PiiKeys, who: Desk) -> list[NameMatchOut]:
    """Holders whose name has every word given (accents, case, order ignored), at most 50.

    The name is in the body, so it never lands in an access log.
    """
    return staff_access.search_by_name(session, ring, who.actor, body.name)


@router.get("/{holder_id}")
def read(holder_id: str, session: DbSession, ring: PiiKeys, who: Desk) -> HolderOut:
    return service.read(session, ring, who.actor, holder_id)


@router.patch("/{holder_id}")
def update(
    holder_id: str, body: ContactUpdate, session: DbSession, ring: PiiKeys, who: Desk
) -> HolderOut:
    return service.update_contact(session, ring, who.actor, holder_id, body)


@router.post("/{holder_id}/evidence", status_code=201)
def add_evidence(
    holder_id: str, body: EvidenceIn, session: DbSession, ring: PiiKeys, who: Desk
) -> EvidenceOut:
    row = service.add_evidence(session, ring, who.actor, holder_id, body)
    return EvidenceOut(
        id=row.id,
        doc_type=row.doc_type,
        checked_by=who.actor.id,
        checked_at=row.checked_at,
        valid_until=row.valid_until,
    )


@router.get("/{holder_id}/evidence")
def list_evidence(holder_id: str, session: DbSession, who: Desk) -> list[EvidenceOut]:
    holder = service.get_live(session, holder_id)
    return [
        EvidenceOut(
            id=e.id,
            doc_type=e.doc_type,
            checked_by=u,
            checked_at=e.checked_at,
            valid_until=e.valid_until,
        )
        for e, u in service.evidence_of(session, holder)
    ]


@router.post("/{holder_id}/erasure", status_code=204)
def erase(holder_id: str, body: ErasureIn, session: DbSession, who: SupervisorOnly) -> None:
    """Crypto-shred the holder's personal data on a lawful request."""
    erasure.erase(session, who.actor, holder_id, body.reason)


@router.get("/{holder_id}/history")
def history(holder_id: str, session: DbSession, who: Desk) -> list[AuditEventOut]:
    """Who looked at or changed this holder and their cards, newest first (this read too)."""
    return staff_access.history(session, who.actor, holder_id)


@router.get("/{holder_id}/export")
def export(holder_id: str, session: DbSession, ring: PiiKeys, who: Desk) -> Any:
    """Everything held about the holder, as a JSON file (GDPR right of access, at the desk)."""
    document = staff_access.export(session, ring, who.actor, holder_id)
    return JSONResponse(
        document,
        headers={
            "Content-Disposition": f'attachment; filename="holder-{holder_id}.json"',
            "Cache-Control": "no-store",
        },
    )
