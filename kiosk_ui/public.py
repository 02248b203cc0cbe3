"""Public pages: anyone checks a residence certificate by its verification code."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiosk_ui.i18n import day, t
from kiosk_ui.render import lang_of, render


def public_router(client: Any) -> APIRouter:
    from terminals.kiosk.client import ServiceError, ServiceUnreachable

    router = APIRouter()

    @router.get("/verify")
    def verify(request: Request, code: str = "") -> Response:
        lang = lang_of(request)
        code = code.strip().upper()[:32]
        if not code:
            return render(request, "verify.html", "verify")
        try:
            found = client.verify_certificate(code)
        except ServiceUnreachable:
            return render(
                request,
                "verify.html",
                "verify",
                code=code,
                error=t(lang, "network_down"),
                status=503,
            )
        except ServiceError:
            return render(
                request,
                "verify.html",
                "verify",
                code=code,
                error=t(lang, "verify_invalid"),
                status=404,
            )
        cert = dict(found)
        for field in ("issued_on", "valid_until", "resident_since"):
            if cert.get(field):
                cert[field] = day(cert[field], lang)
        return render(request, "verify.html", "verify", code=code, cert=cert)

    return router
