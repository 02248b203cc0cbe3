"""The demo kiosk as an enrolled terminal: its identity file is made when missing (the kiosk
runtime reads it), and it is enrolled as a terminal of kind kiosk when not yet enrolled."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from card_service.audit.schemas import Actor
from card_service.db import transaction
from card_service.protocol.terminal_identity import public_key, read_identity, write_identity
from card_service.terminals import enrolment
from card_service.terminals.models import Terminal


def enrol_demo_kiosk(factory: sessionmaker[Session], path: Path, terminal_id: int) -> str:
    """Make sure the demo kiosk can sign its requests; say what was done."""
    if not path.exists():
        write_identity(path, terminal_id, "kiosk", Ed25519PrivateKey.generate())
    terminal_id, _kind, key = read_identity(path)
    with transaction(factory) as session:
        known = session.get(Terminal, terminal_id)
        if known is not None:
            if known.public_key != public_key(key):
                return f"terminal {terminal_id} is enrolled with another key than {path}'s"
            return f"kiosk terminal {terminal_id} enrolled already ({path})"
        enrolment.enrol(
            session,
            Actor.system("demo seed"),
            terminal_id=terminal_id,
            kind="kiosk",
            service="kiosk",
            place="Demo kiosk",
            public_key=public_key(key),
        )
    return f"kiosk terminal {terminal_id} enrolled (its key: {path})"
