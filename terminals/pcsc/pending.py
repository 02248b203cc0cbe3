"""Torn taps: a TAP whose answer never came. The card may or may not have counted it.

The terminal remembers the card's counter before the TAP and the request it sent. At the card's
next presentation (to this terminal) the counter settles it:
- counter unchanged: the card never counted it -> ``not_counted`` (no charge);
- counter one higher and the card's last tap is ours with a valid MAC -> ``charged``;
- counter moved on otherwise -> ``lost``: counted on the card but no MAC to show, so no charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from card_service.protocol.tap_record import TapRecord, TapRequest


@dataclass(frozen=True)
class PendingTap:
    uid: bytes
    key_version: int
    counter_before: int
    request: TapRequest


class Settlement(Enum):
    CHARGED = "charged"
    NOT_COUNTED = "not_counted"
    LOST = "lost"

    @property
    def code(self) -> str:
        return self.value


@dataclass(frozen=True)
class SettledTap:
    pending: PendingTap
    result: Settlement
    record: TapRecord | None = None
    mac: bytes | None = None


class PendingTaps:
    """In memory; the validator's journal will persist these."""

    def __init__(self) -> None:
        self._by_uid: dict[bytes, PendingTap] = {}

    def add(self, tap: PendingTap) -> None:
        self._by_uid[tap.uid] = tap

    def get(self, uid: bytes) -> PendingTap | None:
        return self._by_uid.get(uid)

    def remove(self, uid: bytes) -> None:
        self._by_uid.pop(uid, None)

    def __len__(self) -> int:
        return len(self._by_uid)
