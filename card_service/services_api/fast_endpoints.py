"""The hot questions of the service API on the plain ASGI fast path (api/fast.py).

``GET /v1/services/cards/{number}/entitlements/{category}`` and ``POST /v1/services/quotes`` are
answered here, without FastAPI's routing, dependency solving or an ORM Session, and with the same
answers, errors and audit records as the reference endpoints in endpoints.py (both call
answers.py; tests/services_api/test_fast_path.py asks both). Step by step, as the guard does:

1. ``Authorization: Basic``: a secret this process verified before costs one HMAC and a constant-
   time compare (credentials.Verifier.known); anything else goes to argon2 in a thread. A Bearer
   session is declined here and refused by the FastAPI guard, which audits it.
2. The client's token bucket, then the purpose, then the policy (a refusal is audited).
3. The answer, read on the event loop through this thread's DBAPI connection (prepared.py: the
   same prebuilt statements, without SQLAlchemy's per-execute machinery; one deferred read
   transaction on SQLite): card, holder and data key in one statement, then grants and recent
   uses when the question needs them.
4. The audit record: queued to the group-commit writer and awaited. No answer leaves before its
   record is committed; if the commit fails or takes longer than ``services_audit_wait_s`` the
   answer is 503 ``audit_unavailable``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from card_service.api.fast import FastRequest, FastResponse, FastTable
from card_service.api.problems import DomainError
from card_service.audit.schemas import Actor
from card_service.ledger.results import LedgerError
from card_service.services_api import answers
from card_service.services_api.credentials import ClientView
from card_service.services_api.errors import PurposeRequired, QuestionForbidden, RateLimited
from card_service.services_api.guard import (
    Asked,
    basic_credentials,
    failure,
    purpose_of,
    question_event,
)
from card_service.services_api.policy import Question
from card_service.services_api.rules_cache import rules_of
from card_service.services_api.runtime import Runtime, runtime_of
from card_service.services_api.schemas import QuoteIn
from card_service.staff.errors import AuthenticationRequired

T = TypeVar("T", bound=BaseModel)
table = FastTable()
_AUTH_HINT = "send Authorization: Basic base64(client_id:secret)"


class RequestInvalid(DomainError):
    """The body did not validate: the same problem JSON as FastAPI's RequestValidationError."""

    code = "request_invalid"
    status = 422

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("the request is not valid")
        self.extra = {"errors": errors}


class _Caller:
    __slots__ = ("actor", "client", "rid", "rt", "stated")

    def __init__(
        self, rt: Runtime, client: ClientView, actor: Actor, stated: str | None, rid: str
    ) -> None:
        self.rt, self.client, self.actor, self.stated, self.rid = rt, client, actor, stated, rid


async def _admit(request: FastRequest) -> _Caller | None:
    """The guard (guard.ServiceGuard) without FastAPI; None for a Bearer session (declined)."""
    h = request.headers
    authorization = h.get("authorization")
    if not authorization:
        raise AuthenticationRequired(_AUTH_HINT)
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return None
    if scheme != "basic":
        raise AuthenticationRequired(_AUTH_HINT)
    rt = runtime_of(request.state)
    rid = (h.get("x-request-id") or rt.request_id())[:64]
    client_id, secret = basic_credentials(value)
    view = rt.verifier.known(client_id, secret)
    if view is None:
        view = await asyncio.to_thread(rt.verifier.authenticate, client_id, secret)
    wait = rt.limiter.take(view.client_id, view.rate_per_s, view.burst)
    if wait:
        raise RateLimited(wait)
    stated = h.get("purpose") or _query(request.query, "purpose")
    return _Caller(rt, view, Actor("service", view.client_id, "service", rid), stated, rid)


def _query(raw: bytes, name: str) -> str | None:
    if not raw:
        return None
    values = parse_qs(raw.decode("latin-1"), keep_blank_values=True).get(name)
    return values[-1] if values else None  # the last, as Starlette's query_params.get


async def _ask(
    caller: _Caller,
    question: Question,
    target: str,
    in_body: str | None,
    answer: Callable[[Session, answers.Rules, Asked], T],
) -> FastResponse:
    """Purpose, policy, the answer on one Core connection, then its committed audit record."""
    rt = caller.rt
    sink = rt.sink
    purpose = purpose_of(in_body, caller.stated)
    if not purpose:
        await sink.arecord(
            question_event(caller.actor, question, target, "-", "denied", "no purpose stated")
        )
        raise PurposeRequired(
            "state why you ask: header Purpose, query parameter or body field purpose"
        )
    if not caller.client.policy.allows(question):
        await sink.arecord(
            question_event(caller.actor, question, target, purpose, "denied", "not in its policy")
        )
        raise QuestionForbidden(f"this client's policy does not allow {question!r}")
    asked = Asked(purpose)
    engine, reads = rt.read_engine, rt.reads
    conn = rt.connection()
    try:
        reader = answers.ConnectionReads(conn).as_session()
        result = answer(reader, lambda now: rules_of(engine, reads, now), asked)
        conn.end()  # the end of the read transaction (SQLite); nothing was written
    except (DomainError, LedgerError) as exc:
        conn.end()
        outcome, note = failure(exc, asked.note)
        await sink.arecord(question_event(caller.actor, question, target, purpose, outcome, note))
        raise
    except BaseException:
        rt.drop_connection()
        raise
    await sink.arecord(question_event(caller.actor, question, target, purpose, "ok", asked.note))
    response = FastResponse(200, result.model_dump_json().encode())  # compact, as orjson
    response.headers.append((b"x-request-id", caller.rid.encode()))
    return response


@table.route("GET", "/v1/services/cards/")
async def entitlement(request: FastRequest) -> FastResponse | None:
    """``/v1/services/cards/{number}/entitlements/{category}``; other card paths go to FastAPI."""
    number, sep, category = request.params.partition("/entitlements/")
    if not sep or not number or not category or "/" in number or "/" in category:
        return None
    caller = await _admit(request)
    if caller is None:
        return None
    rt = caller.rt
    ring, tz, client = rt.ring(), rt.tz, caller.client

    def answer(reads: Session, rules: answers.Rules, asked: Asked) -> BaseModel:
        return answers.entitlement(reads, ring, client, rules, number, category, tz, asked)

    return await _ask(caller, "entitlement", f"card:{number}", None, answer)


def _body(request: FastRequest, model: type[T]) -> T:
    """The body as FastAPI would validate it (the same errors, located under "body")."""
    if not request.body:
        raise RequestInvalid([{"loc": ["body"], "msg": "Field required"}])
    try:
        raw = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise RequestInvalid([{"loc": ["body", exc.pos], "msg": "JSON decode error"}]) from None
    try:
        return model.model_validate(raw, from_attributes=True)
    except ValidationError as exc:
        errors = [{"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in exc.errors()]
        raise RequestInvalid(errors) from None


@table.route("POST", "/v1/services/quotes")
async def quote(request: FastRequest) -> FastResponse | None:
    caller = await _admit(request)
    if caller is None:
        return None
    body = _body(request, QuoteIn)
    rt = caller.rt
    ring, tz, client = rt.ring(), rt.tz, caller.client

    def answer(reads: Session, rules: answers.Rules, asked: Asked) -> BaseModel:
        return answers.quote(reads, ring, client, rules, body, tz, asked)

    return await _ask(caller, "quote", f"card:{body.card}", body.purpose, answer)
