"""HTTP endpoints for terminals: enrolment and reports for staff, signed routes for terminals.

The terminal routes (``/v1/terminal/...``) need no staff session: each request carries an RFC 9421
signature by the terminal's enrolled key (card_service/terminals/signatures.py). Their database
transaction commits before the answer is sent (``scope="function"``): a tap acknowledged to a
terminal is a tap committed.
"""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from card_service.api.auth import AdminOnly, Allow, AppSettings, Principal
from card_service.api.deps import db_session
from card_service.cards.issuing import keystore_for
from card_service.config import Settings
from card_service.staff.roles import Role
from card_service.terminals import enrolment, reports, snapshots
from card_service.terminals.checks import TapKeys
from card_service.terminals.errors import BatchMalformed
from card_service.terminals.models import Terminal
from card_service.terminals.schemas import DisableIn, ExceptionRow, TerminalIn, TerminalOut
from card_service.terminals.settlement import settle_batch
from card_service.terminals.signatures import Message, verify_request
from card_service.terminals.wire import batch_items

router = APIRouter(prefix="/v1", tags=["terminals"])
CommittedSession = Annotated[Session, Depends(db_session, scope="function")]
AdminOrAuditor = Annotated[Principal, Depends(Allow(Role.ADMIN, Role.AUDITOR))]
_keys_lock = threading.Lock()
_tap_keys: dict[int, TapKeys] = {}


def tap_keys(settings: Settings) -> TapKeys:
    keys = keystore_for(settings)
    with _keys_lock:
        found = _tap_keys.get(id(keys))
        if found is None:
            found = _tap_keys[id(keys)] = TapKeys(keys)
        return found


def _out(t: Terminal) -> TerminalOut:
    return TerminalOut(
        id=t.id,
        kind=t.kind,
        service=t.service,
        place=t.place,
        public_key=t.public_key.hex(),
        status=t.status,
        enrolled_at=t.enrolled_at,
        disabled_at=t.disabled_at,
    )


@router.post("/terminals", status_code=201)
def enrol(body: TerminalIn, session: CommittedSession, who: AdminOnly) -> TerminalOut:
    """Enrol a terminal with its Ed25519 public key."""
    terminal = enrolment.enrol(
        session,
        who.actor,
        terminal_id=body.id,
        kind=body.kind,
        service=body.service,
        place=body.place,
        public_key=bytes.fromhex(body.public_key),
    )
    return _out(terminal)


@router.get("/terminals")
def list_terminals(session: CommittedSession, who: AdminOnly) -> list[TerminalOut]:
    """Every enrolled terminal."""
    return [_out(t) for t in enrolment.listing(session)]


@router.get("/terminals/exceptions")
def exceptions(
    session: CommittedSession, who: AdminOrAuditor, limit: int = 500, after: int = 0
) -> list[ExceptionRow]:
    """Taps not settled: exceptions (revenue loss) and rejected uploads."""
    return reports.exceptions(session, limit=min(limit, 5000), after_ns=after)


@router.get("/terminals/{terminal_id}")
def read_terminal(terminal_id: int, session: CommittedSession, who: AdminOnly) -> TerminalOut:
    """One terminal."""
    return _out(enrolment.get(session, terminal_id))


@router.post("/terminals/{terminal_id}/disable")
def disable(
    terminal_id: int, body: DisableIn, session: CommittedSession, who: AdminOnly
) -> TerminalOut:
    """Disable a terminal: its requests are refused from now on."""
    return _out(enrolment.disable(session, who.actor, terminal_id, body.reason))


def _signed(request: Request, body: bytes, session: Session, settings: Settings) -> Terminal:
    message = Message(request.method, str(request.url), dict(request.headers))
    return verify_request(session, message, body, settings.terminals_signature_window_s)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise BatchMalformed("the body is not JSON") from exc


@router.post("/terminal/taps")
async def upload_taps(
    request: Request, session: CommittedSession, settings: AppSettings
) -> dict[str, Any]:
    """A terminal uploads journaled taps (signed); an answer per tap."""
    body = await request.body()

    def work() -> dict[str, Any]:
        terminal = _signed(request, body, session, settings)
        items = batch_items(body, settings.terminals_max_batch)
        answers = settle_batch(session, terminal.id, items, tap_keys(settings))
        return {"terminal_id": terminal.id, "answers": [a.to_json() for a in answers]}

    return await run_in_threadpool(work)


@router.post("/terminal/snapshot")
async def snapshot(
    request: Request, session: CommittedSession, settings: AppSettings
) -> dict[str, Any]:
    """A terminal fetches its snapshot (signed by the city): deny list delta, fares, keys, time."""
    body = await request.body()

    def work() -> dict[str, Any]:
        terminal = _signed(request, body, session, settings)
        ask = _json(body)
        return snapshots.build(session, settings, terminal, ask if isinstance(ask, dict) else {})

    return await run_in_threadpool(work)
