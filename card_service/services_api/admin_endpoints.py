"""Admin routes: register a city service's client, set its policy, rotate its secret, disable it.

Changes commit before the answer and then drop this process's copy of the client, so the change
holds here at once (other processes reload within ``services_client_cache_s``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from card_service.api.auth import AdminOnly, AppSettings
from card_service.api.deps import DbSession
from card_service.catalogue.errors import ServiceUnknown
from card_service.catalogue.service import in_force
from card_service.db import transaction
from card_service.services_api import clients
from card_service.services_api.runtime import runtime
from card_service.services_api.schemas import (
    ClientIn,
    ClientIssued,
    ClientOut,
    PolicyIn,
    RotationIn,
)
from card_service.staff.roles import utcnow

router = APIRouter(prefix="/v1/service-clients", tags=["service clients"])
T = TypeVar("T")


def _change(request: Request, client_id: str, change: Callable[[Session], T]) -> T:
    with transaction(request.app.state.sessionmaker) as session:
        out = change(session)
    runtime(request.app).verifier.invalidate(client_id)
    return out


@router.post("", status_code=201)
def register(
    body: ClientIn, session: DbSession, settings: AppSettings, who: AdminOnly
) -> ClientIssued:
    """Register a service's client; the secret is in this answer only."""
    rules = in_force(session, utcnow())
    if body.service not in rules.services:
        raise ServiceUnknown(f"no service {body.service!r} in the catalogue in force")
    issued = clients.register(
        session,
        who.actor,
        service=body.service,
        name=body.name,
        policy=body.policy,
        rate_per_s=body.rate_per_s or settings.services_default_rate_per_s,
        burst=body.burst or settings.services_default_burst,
        categories=list(rules.categories),
    )
    return ClientIssued(**clients.view(issued.client).model_dump(), secret=issued.secret)


@router.get("")
def list_clients(session: DbSession, who: AdminOnly) -> list[ClientOut]:
    """Every registered client with its policy (never a secret)."""
    return [clients.view(c) for c in clients.all_clients(session)]


@router.get("/{client_id}")
def get_client(client_id: str, session: DbSession, who: AdminOnly) -> ClientOut:
    """One client and its policy."""
    return clients.view(clients.get(session, client_id))


@router.put("/{client_id}/policy")
def set_policy(client_id: str, body: PolicyIn, request: Request, who: AdminOnly) -> ClientOut:
    """Replace what the client may ask and which fields its answers carry."""

    def change(session: Session) -> ClientOut:
        cats = list(in_force(session, utcnow()).categories)
        client = clients.set_policy(
            session,
            who.actor,
            client_id,
            body.policy,
            cats,
            rate_per_s=body.rate_per_s,
            burst=body.burst,
        )
        return clients.view(client)

    return _change(request, client_id, change)


@router.post("/{client_id}/rotation")
def rotate(
    client_id: str, body: RotationIn, request: Request, settings: AppSettings, who: AdminOnly
) -> ClientIssued:
    """A new secret; the previous one keeps working for the grace period."""
    hours = settings.services_rotation_grace_hours if body.grace_hours is None else body.grace_hours

    def change(session: Session) -> ClientIssued:
        issued = clients.rotate(session, who.actor, client_id, timedelta(hours=hours))
        return ClientIssued(**clients.view(issued.client).model_dump(), secret=issued.secret)

    return _change(request, client_id, change)


@router.post("/{client_id}/disable")
def disable(client_id: str, request: Request, who: AdminOnly) -> ClientOut:
    """Refuse the client from now on (its history and audit records stay)."""
    return _change(
        request,
        client_id,
        lambda s: clients.view(clients.set_active(s, who.actor, client_id, False)),
    )


@router.post("/{client_id}/enable")
def enable(client_id: str, request: Request, who: AdminOnly) -> ClientOut:
    """Admit a disabled client again."""
    return _change(
        request,
        client_id,
        lambda s: clients.view(clients.set_active(s, who.actor, client_id, True)),
    )
