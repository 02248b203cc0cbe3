"""The desk's entitlement grants on the holder page: grant a category with the evidence checked
and its validity; a free-fare grant waits for a second clerk or supervisor, who approves it (the
granter's own approval is refused: ``grant_self_approval``, shown in plain words); revoke.
Every action is card_service's (``/v1/holders/{id}/grants``, ``/v1/grants/{id}/...``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response


def _moment(day: str, end: bool) -> str | None:
    """A date from the form as the start or the end of that day (UTC), or None if blank."""
    day = day.strip()
    if not day:
        return None
    return f"{day}T23:59:59Z" if end else f"{day}T00:00:00Z"


def grant_routes(client: Any, action: Callable[..., Response]) -> APIRouter:
    """``action(request, holder_id, run, done)`` runs ``run(staff)`` and redirects to the holder
    page with the message ``done`` or the error's code (the desk's card actions do the same)."""
    router = APIRouter()

    @router.post("/holders/{holder_id}/grants")
    def grant(
        request: Request,
        holder_id: str,
        category: str = Form(...),
        evidence_id: int = Form(...),
        valid_from: str = Form(""),
        valid_to: str = Form(...),
    ) -> Response:
        body: dict[str, Any] = {"category": category, "evidence_id": evidence_id}
        body["valid_to"] = _moment(valid_to, end=True)
        if (start := _moment(valid_from, end=False)) is not None:
            body["valid_from"] = start

        def run(staff: Any) -> str:
            return str(client.grant(staff.token, holder_id, body)["id"])

        return action(request, holder_id, run, "desk_granted")

    @router.post("/grants/{grant_id}/approve")
    def approve(request: Request, grant_id: int, holder_id: str = Form(...)) -> Response:
        def run(staff: Any) -> str:
            client.approve_grant(staff.token, grant_id)
            return str(grant_id)

        return action(request, holder_id, run, "desk_grant_approved")

    @router.post("/grants/{grant_id}/revoke")
    def revoke(
        request: Request, grant_id: int, holder_id: str = Form(...), reason: str = Form(...)
    ) -> Response:
        def run(staff: Any) -> str:
            client.revoke_grant(staff.token, grant_id, reason)
            return str(grant_id)

        return action(request, holder_id, run, "desk_grant_revoked")

    return router
