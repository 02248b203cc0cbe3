"""RFC 9457 problem JSON: every named error becomes ``{type, title, status, detail, code}``.

Domain services raise exceptions that carry a stable ``code`` and an HTTP ``status``; this is the
one place that turns them into responses (docs/reference/errors.md lists every code).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://card.city.example/problems/"


def problem(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


class DomainError(Exception):
    """Base of every named error a service may raise; subclasses set ``code`` and ``status``
    (and may set ``headers``, such as Retry-After)."""

    code = "error"
    status = 400
    headers: dict[str, str] | None = None

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code


def install(app: FastAPI) -> None:
    from card_service.catalogue.errors import from_engine
    from card_service.ledger.results import LedgerError
    from card_service.protocol.fees import FeeError

    async def named(_req: Request, exc: Exception) -> JSONResponse:
        err: Any = exc
        return problem(err.status, err.code, err.detail, getattr(err, "headers", None))

    async def invalid(_req: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return problem(422, "request_invalid", "the request is not valid", errors=errors)

    async def http(_req: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail))

    async def fee(req: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FeeError)
        return await named(req, from_engine(exc))

    app.add_exception_handler(DomainError, named)
    app.add_exception_handler(FeeError, fee)
    app.add_exception_handler(LedgerError, named)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http)
