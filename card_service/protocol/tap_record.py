"""The tap record the card MACs, and that MAC.

Record (20 bytes, big-endian): terminal id u32 | terminal sequence u32 | time u32 (Unix seconds) |
amount u32 (euro cents) | card counter u32. The terminal sends the first 16 bytes; the card adds its
incremented counter. MAC = the EV2-truncated AES-CMAC of the record under the card's tap key,
K_tap = AES-CMAC(K_card, "CITYCARD tap MAC key v1"), so the back office checks it by re-deriving
K_card from the master key; no session state is needed.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from card_service.protocol.aes import cmac
from card_service.protocol.errors import MacMismatch, MalformedInput
from card_service.protocol.session import truncate_mac

TAP_KEY_LABEL = b"CITYCARD tap MAC key v1"
TAP_MAC_LEN = 8
_REQUEST = struct.Struct(">IIII")
_RECORD = struct.Struct(">IIIII")
REQUEST_LEN = _REQUEST.size
RECORD_LEN = _RECORD.size


def tap_key(card_key: bytes) -> bytes:
    """The per-card key that MACs tap records, derived from the card key."""
    return cmac(card_key, TAP_KEY_LABEL)


@dataclass(frozen=True)
class TapRequest:
    """What the terminal asks the card to count and MAC."""

    terminal_id: int
    terminal_seq: int
    time: int
    amount_cents: int

    def to_bytes(self) -> bytes:
        try:
            return _REQUEST.pack(self.terminal_id, self.terminal_seq, self.time, self.amount_cents)
        except struct.error as exc:
            raise MalformedInput(f"tap field out of range: {exc}") from exc

    @classmethod
    def parse(cls, data: bytes) -> TapRequest:
        if len(data) != REQUEST_LEN:
            raise MalformedInput("tap request must be 16 bytes")
        return cls(*_REQUEST.unpack(data))


@dataclass(frozen=True)
class TapRecord:
    """A counted tap: the request plus the card's counter after the tap."""

    terminal_id: int
    terminal_seq: int
    time: int
    amount_cents: int
    card_counter: int

    @classmethod
    def of(cls, request: TapRequest, counter: int) -> TapRecord:
        return cls(
            request.terminal_id, request.terminal_seq, request.time, request.amount_cents, counter
        )

    @property
    def request(self) -> TapRequest:
        return TapRequest(self.terminal_id, self.terminal_seq, self.time, self.amount_cents)

    def to_bytes(self) -> bytes:
        return _RECORD.pack(
            self.terminal_id, self.terminal_seq, self.time, self.amount_cents, self.card_counter
        )

    @classmethod
    def parse(cls, data: bytes) -> TapRecord:
        if len(data) != RECORD_LEN:
            raise MalformedInput("tap record must be 20 bytes")
        return cls(*_RECORD.unpack(data))


def tap_mac(card_key: bytes, record: TapRecord) -> bytes:
    """The 8-byte MAC of a tap record under the card key."""
    return truncate_mac(cmac(tap_key(card_key), record.to_bytes()))


def verify_tap_mac(card_key: bytes, record: TapRecord, mac: bytes) -> None:
    """Raise ``MacMismatch`` unless ``mac`` is the card's MAC of ``record``."""
    if not hmac.compare_digest(tap_mac(card_key, record), mac):
        raise MacMismatch("tap MAC does not match the record")
