"""Terminal enrolment: an admin registers a terminal with its Ed25519 public key, or disables it."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.staff.roles import utcnow
from card_service.terminals.errors import TerminalExists, TerminalKeyInvalid, TerminalNotFound
from card_service.terminals.models import Terminal


def enrol(
    session: Session,
    actor: Actor,
    *,
    terminal_id: int,
    kind: str,
    service: str,
    place: str,
    public_key: bytes,
) -> Terminal:
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise TerminalKeyInvalid("a terminal key is a raw Ed25519 public key of 32 bytes") from exc
    if session.get(Terminal, terminal_id) is not None:
        raise TerminalExists(f"terminal {terminal_id} is enrolled already")
    if session.scalar(select(Terminal.id).where(Terminal.public_key == public_key)) is not None:
        raise TerminalExists("another terminal has this key")
    terminal = Terminal(
        id=terminal_id,
        kind=kind,
        service=service,
        place=place,
        public_key=public_key,
        status="active",
        enrolled_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(terminal)
            session.flush()
    except IntegrityError as exc:
        raise TerminalExists(f"terminal {terminal_id} or its key is enrolled already") from exc
    audit.record(session, actor, "terminal.enrol", f"terminal:{terminal_id}", reason=kind)
    return terminal


def get(session: Session, terminal_id: int, *, lock: bool = False) -> Terminal:
    stmt = select(Terminal).where(Terminal.id == terminal_id)
    terminal = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if terminal is None:
        raise TerminalNotFound(f"no terminal {terminal_id}")
    return terminal


def disable(session: Session, actor: Actor, terminal_id: int, reason: str) -> Terminal:
    """A disabled terminal's requests are refused from now on; what it settled stays settled."""
    terminal = get(session, terminal_id, lock=True)
    if terminal.status != "disabled":
        terminal.status, terminal.disabled_at = "disabled", utcnow()
        session.flush()
        audit.record(session, actor, "terminal.disable", f"terminal:{terminal_id}", reason=reason)
    return terminal


def listing(session: Session) -> list[Terminal]:
    return list(session.scalars(select(Terminal).order_by(Terminal.id)))
