"""What a virtual card keeps between power cycles, in one JSON file written atomically."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from card_service.protocol.apdu import AID, SYSTEM_ID, TRANSPORT_KEY_VERSION, CardState
from card_service.protocol.diversify import card_key


@dataclass
class CardFile:
    uid: str  # hex, 7 bytes
    state: int
    key_version: int
    key: str  # hex, 16 bytes
    certificate: str = ""  # hex
    counter: int = 0  # only ever goes up
    last_tap: str = ""  # hex: record (20) || MAC (8)

    @classmethod
    def blank(cls, uid: bytes, transport_master: bytes) -> CardFile:
        """A card as the factory ships it: the transport key diversified for its UID."""
        key = card_key(transport_master, uid, AID, SYSTEM_ID)
        return cls(uid.hex(), CardState.BLANK, TRANSPORT_KEY_VERSION, key.hex())


class CardStore:
    """Loads and saves a ``CardFile``; a save is atomic (write a temporary file, then rename),
    as a card's EEPROM commit is: after a tear the file holds the old or the new state."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> CardFile:
        return CardFile(**json.loads(self.path.read_text()))

    def save(self, card: CardFile) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(card)))
        os.replace(tmp, self.path)
