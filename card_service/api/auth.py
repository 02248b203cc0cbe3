"""The HTTP side of authentication: FastAPI dependencies that guard every non-public route.

``Allow(roles...)`` admits a staff session of one of those roles; ``Citizen()`` a citizen's
session. Refusals are named errors; a refusal of a signed-in person (wrong role, wrong kind of
session) is written to the audit trail in its own transaction first, since the request's own
transaction rolls back with the error. The permissions reference is generated from these objects
(card_service/api/permissions.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request, Response

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.config import Settings
from card_service.db import transaction
from card_service.identity.crypto import Keyring, keyring_for
from card_service.staff.errors import AuthenticationRequired, Forbidden, SessionExpired
from card_service.staff.models import StaffAccount
from card_service.staff.roles import Role
from card_service.staff.sessions import resolve


@dataclass(frozen=True)
class Principal:
    actor: Actor
    token: str
    staff_id: int | None = None
    card_id: int | None = None


def request_id(response: Response, x_request_id: Annotated[str | None, Header()] = None) -> str:
    rid = (x_request_id or uuid.uuid4().hex)[:64]
    response.headers["X-Request-ID"] = rid
    return rid


RequestId = Annotated[str, Depends(request_id)]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def keyring(request: Request) -> Keyring:
    s = settings_of(request)
    return keyring_for(s.pii_keyring, s.pii_keyring_path)


AppSettings = Annotated[Settings, Depends(settings_of)]
PiiKeys = Annotated[Keyring, Depends(keyring)]


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthenticationRequired("send Authorization: Bearer <session token>")
    return authorization[7:].strip()


def _deny(request: Request, actor: Actor, why: str) -> Forbidden:
    route = getattr(request.scope.get("route"), "path_format", None) or request.url.path
    action = f"{request.method} {route}"[:64]
    with transaction(request.app.state.sessionmaker) as side:
        audit.record(side, actor, action, request.url.path[:96], outcome="denied", reason=why)
    return Forbidden(f"{actor.role} may not do this: {why}")


class Allow:
    """Admit a staff session whose role is one of ``roles``."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)
        self.label = ", ".join(sorted(str(r) for r in roles))

    def __call__(
        self,
        request: Request,
        rid: RequestId,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Principal:
        token = _bearer(authorization)
        with transaction(request.app.state.sessionmaker) as side:
            row = resolve(side, token)
            staff = side.get(StaffAccount, row.staff_id) if row.staff_id else None
            if staff is not None:
                if not staff.active:
                    raise SessionExpired("this staff account is deactivated")
                actor = Actor("staff", staff.username, staff.role, rid, staff.id)
            else:
                actor = Actor("citizen", f"card:{row.card_id}", "citizen", rid)
        if actor.kind != "staff":
            raise _deny(request, actor, "staff only")
        if actor.role not in self.roles:
            raise _deny(request, actor, f"needs {' or '.join(sorted(self.roles))}")
        return Principal(actor, token, staff_id=actor.staff_id)


class CitizenOnly:
    """Admit a citizen's session (card number and PIN)."""

    label = "citizen"
    roles: frozenset[str] = frozenset({"citizen"})

    def __call__(
        self,
        request: Request,
        rid: RequestId,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Principal:
        from card_service.cards.models import Card
        from card_service.identity.models import Holder

        token = _bearer(authorization)
        with transaction(request.app.state.sessionmaker) as side:
            row = resolve(side, token)
            if row.kind == "citizen" and row.card_id is not None:
                card = side.get(Card, row.card_id)
                holder = side.get(Holder, card.holder_id) if card else None
                pseudonym = holder.pseudonym if holder else "unknown"
                actor = Actor("citizen", f"holder:{pseudonym}", "citizen", rid)
                return Principal(actor, token, card_id=row.card_id)
            staff = side.get(StaffAccount, row.staff_id) if row.staff_id else None
            actor = Actor(
                "staff",
                staff.username if staff else "unknown",
                staff.role if staff else "unknown",
                rid,
            )
        raise _deny(request, actor, "citizens only")


AnyStaff = Annotated[Principal, Depends(Allow(*Role))]
Desk = Annotated[Principal, Depends(Allow(Role.CLERK, Role.SUPERVISOR))]
SupervisorOnly = Annotated[Principal, Depends(Allow(Role.SUPERVISOR))]
AuditorOnly = Annotated[Principal, Depends(Allow(Role.AUDITOR))]
AdminOnly = Annotated[Principal, Depends(Allow(Role.ADMIN))]
Citizen = Annotated[Principal, Depends(CitizenOnly())]
