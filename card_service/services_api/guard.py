"""The HTTP guard of the service API: a registered client, within its rate and its policy.

A client sends ``Authorization: Basic base64(client_id:secret)`` and states a purpose (header
``Purpose``, query parameter ``purpose`` or the body's ``purpose`` field). Every question, answered
or refused by the policy, leaves an audit record with the purpose before the answer leaves.
A staff or citizen session presented here is refused (403) and recorded, as on any route.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from card_service.api.auth import _deny
from card_service.api.problems import DomainError
from card_service.audit.schemas import Actor
from card_service.audit.service import PendingEvent
from card_service.db import transaction
from card_service.identity.crypto import Keyring, keyring_for
from card_service.ledger.clock import now_ns
from card_service.ledger.results import LedgerError
from card_service.services_api.credentials import ClientView
from card_service.services_api.errors import (
    ClientUnauthenticated,
    PurposeRequired,
    QuestionForbidden,
    RateLimited,
)
from card_service.services_api.policy import Question
from card_service.services_api.runtime import Runtime, runtime
from card_service.staff.errors import AuthenticationRequired
from card_service.staff.models import StaffAccount
from card_service.staff.sessions import resolve

MAX_PURPOSE = 160


@dataclass
class Asked:
    """The stated purpose, and what the answer disclosed, for its audit record."""

    purpose: str
    note: str | None = None
    recorded: bool = False  # the answer's record was written in its own transaction


@dataclass(frozen=True)
class Caller:
    client: ClientView
    actor: Actor
    stated_purpose: str | None
    runtime: Runtime

    def reads(self) -> Session:
        """A read-only session for the answer (SQLite: no write lock, so the audit sink's writer
        never waits for it); use it in a ``with`` block."""
        return self.runtime.reads()

    def ring(self) -> Keyring:
        s = self.runtime.settings
        return keyring_for(s.pii_keyring, s.pii_keyring_path)

    @contextlib.contextmanager
    def question(
        self, question: Question, target: str, in_body: str | None = None
    ) -> Iterator[Asked]:
        """Require a purpose and the policy's leave, then audit the outcome: answered, refused,
        or failed with its error code. Nothing is answered without its record."""
        purpose = purpose_of(in_body, self.stated_purpose)
        if not purpose:
            self.audit(question, target, "-", outcome="denied", note="no purpose stated")
            raise PurposeRequired(
                "state why you ask: header Purpose, query parameter or body field purpose"
            )
        if not self.client.policy.allows(question):
            self.audit(question, target, purpose, outcome="denied", note="not in its policy")
            raise QuestionForbidden(f"this client's policy does not allow {question!r}")
        asked = Asked(purpose)
        try:
            yield asked
        except (DomainError, LedgerError) as exc:
            outcome, note = failure(exc, asked.note)
            self.audit(question, target, purpose, outcome=outcome, note=note)
            raise
        if not asked.recorded:
            self.audit(question, target, purpose, note=asked.note)

    def audit(
        self,
        question: str,
        target: str,
        purpose: str,
        *,
        outcome: str = "ok",
        note: str | None = None,
    ) -> None:
        self.runtime.sink.record(
            question_event(self.actor, question, target, purpose, outcome, note)
        )


def purpose_of(in_body: str | None, stated: str | None) -> str:
    """The purpose a question states: the body's, else the header's or query's ('' if none)."""
    return (in_body or stated or "").strip()[:MAX_PURPOSE]


def question_event(
    actor: Actor, question: str, target: str, purpose: str, outcome: str, note: str | None
) -> PendingEvent:
    reason = f"purpose: {purpose}" + (f"; {note}" if note else "")
    return PendingEvent(actor, f"services.{question}", target, now_ns(), reason, outcome)


def failure(exc: DomainError | LedgerError, note: str | None) -> tuple[str, str]:
    """The outcome and note of a question that raised a named error."""
    outcome = "denied" if isinstance(exc, QuestionForbidden) else "failed"
    return outcome, (f"{note}; {exc.code}" if note else exc.code)


def basic_credentials(value: str) -> tuple[str, str]:
    try:
        raw = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ClientUnauthenticated("Authorization: Basic needs base64(client_id:secret)") from exc
    client_id, sep, secret = raw.partition(":")
    if not sep or not client_id or not secret:
        raise ClientUnauthenticated("Authorization: Basic needs base64(client_id:secret)")
    return client_id, secret


class ServiceGuard:
    """Admit a registered, active service client within its rate limit."""

    audience = "service"
    label = "service"

    async def __call__(
        self,
        request: Request,
        response: Response,
        authorization: Annotated[str | None, Header()] = None,
        purpose: Annotated[str | None, Header()] = None,
        x_request_id: Annotated[str | None, Header()] = None,
    ) -> Caller:
        # Async, and nothing here blocks on the common path (a known client with a known
        # secret): no thread-pool hop before the endpoint. A reload or an argon2 check runs in
        # the thread pool.
        rid = (x_request_id or uuid.uuid4().hex)[:64]
        response.headers["X-Request-ID"] = rid
        if not authorization:
            raise AuthenticationRequired("send Authorization: Basic base64(client_id:secret)")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            raise await run_in_threadpool(self._person, request, rid, value.strip())
        if scheme.lower() != "basic":
            raise AuthenticationRequired("send Authorization: Basic base64(client_id:secret)")
        rt = runtime(request.app)
        client_id, secret = basic_credentials(value)
        view = rt.verifier.known(client_id, secret)
        if view is None:
            view = await run_in_threadpool(rt.verifier.authenticate, client_id, secret)
        wait = rt.limiter.take(view.client_id, view.rate_per_s, view.burst)
        if wait:
            raise RateLimited(wait)
        stated = purpose or request.query_params.get("purpose")
        actor = Actor("service", view.client_id, "service", rid)
        return Caller(view, actor, stated, rt)

    @staticmethod
    def _person(request: Request, rid: str, token: str) -> Exception:
        """A staff or citizen session on a service route: refused like any role that may not."""
        with transaction(request.app.state.sessionmaker) as side:
            row = resolve(side, token)  # raises for an unknown or expired session
            staff = side.get(StaffAccount, row.staff_id) if row.staff_id else None
            if staff is not None:
                actor = Actor("staff", staff.username, staff.role, rid, staff.id)
            else:
                actor = Actor("citizen", f"card:{row.card_id}", "citizen", rid)
        return _deny(request, actor, "service clients only")


Service = Annotated[Caller, Depends(ServiceGuard())]
