"""The demo's virtual card for a card number: a blank card personalised as the desk would.

Uses the city's keystore (the demo reads card_service's own file under var/), so it is for the
demo and the tests only: a real kiosk holds master keys to authenticate cards, never the issuing
key that signs holder certificates.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from card_service.protocol.keystore import MemoryKeystore
from terminals.kiosk.card import card_id_for
from terminals.pcsc.personalise import CardIssue, personalise
from terminals.virtual_card.applet import Applet
from terminals.virtual_card.local import LocalChannel
from terminals.virtual_card.state import CardFile, CardStore

ISSUING_KEY_ID = 1


def uid_for(number: str) -> bytes:
    """A stable 7-byte chip UID for a demo card number."""
    return b"\x04" + hashlib.sha256(b"demo uid|" + number.encode()).digest()[:6]


def personalised_card(
    state: Path,
    city: MemoryKeystore,
    number: str,
    *,
    uid: bytes | None = None,
    holder: bytes = b"\x00" * 16,
    valid_s: int = 5 * 365 * 86400,
    categories: tuple[str, ...] = ("resident",),
) -> CardFile:
    """Make ``state`` a personalised, locked card for ``number``; return its content."""
    transport = os.urandom(16)
    keys = MemoryKeystore(
        masters={0: transport, **city.masters}, issuers=dict(city.issuers), current=city.current
    )
    store = CardStore(state)
    store.save(CardFile.blank(uid or uid_for(number), transport))
    personalise(
        LocalChannel(Applet(store)),
        keys,
        CardIssue(
            card_id_for(number), holder, int(time.time()) + valid_s, categories, ISSUING_KEY_ID
        ),
    )
    return store.load()


def demo_card(directory: Path, city: MemoryKeystore, number: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    state = directory / f"card-{number}.json"
    if not state.exists():
        personalised_card(state, city, number)
    return state
