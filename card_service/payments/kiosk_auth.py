"""The kiosk's identity for kiosk cash: the request is signed (RFC 9421) by an enrolled, active
terminal of kind ``kiosk`` whose id is the ``{kiosk_id}`` of the path, so a kiosk credits cash
into its own account only. The signature check is the terminals domain's (``verify_request``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from card_service.api.auth import AppSettings, Principal, RequestId
from card_service.api.deps import DbSession
from card_service.audit.schemas import Actor
from card_service.payments.errors import KioskTerminalMismatch
from card_service.terminals.signatures import Message, verify_request


async def _body(request: Request) -> bytes:
    return await request.body()


def kiosk_terminal(
    kiosk_id: str,
    request: Request,
    body: Annotated[bytes, Depends(_body)],
    session: DbSession,
    settings: AppSettings,
    rid: RequestId,
) -> Principal:
    """The kiosk that signed this request, as the actor of what it does."""
    message = Message(request.method, str(request.url), dict(request.headers))
    terminal = verify_request(session, message, body, settings.terminals_signature_window_s)
    if terminal.kind != "kiosk" or str(terminal.id) != kiosk_id:
        raise KioskTerminalMismatch(
            f"terminal {terminal.id} ({terminal.kind}) may not pay cash in for kiosk {kiosk_id!r}"
        )
    return Principal(Actor("system", f"kiosk:{terminal.id}", "system", rid), token="")


SignedKiosk = Annotated[Principal, Depends(kiosk_terminal)]
