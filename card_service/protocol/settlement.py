"""Back-office check of a tap at settlement: re-derive the card key, check the MAC and counter.

The database-backed ``CounterLedger`` comes with settlement; ``MemoryCounterLedger`` is the
reference implementation and what tests use.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from card_service.protocol.apdu import AID, SYSTEM_ID
from card_service.protocol.diversify import card_key
from card_service.protocol.errors import MacMismatch, UnknownKeyVersion
from card_service.protocol.keystore import Keystore
from card_service.protocol.tap_record import TapRecord, verify_tap_mac


class TapCheck(Enum):
    """The named result of checking one tap. ``value`` is the stable code."""

    ACCEPTED = "accepted"
    UNKNOWN_KEY_VERSION = "unknown_key_version"
    MAC_MISMATCH = "mac_mismatch"
    COUNTER_REPLAYED = "counter_replayed"

    @property
    def code(self) -> str:
        return self.value


class CounterLedger(Protocol):
    """Remembers which card counters were already settled, per card UID."""

    def claim(self, uid: bytes, counter: int) -> bool:
        """Record ``counter`` for the card; False if it was already recorded."""
        ...


class MemoryCounterLedger:
    def __init__(self) -> None:
        self._seen: dict[bytes, set[int]] = {}

    def claim(self, uid: bytes, counter: int) -> bool:
        seen = self._seen.setdefault(uid, set())
        if counter in seen:
            return False
        seen.add(counter)
        return True


@dataclass(frozen=True)
class SubmittedTap:
    """A tap as a terminal uploads it."""

    uid: bytes
    key_version: int
    record: TapRecord
    mac: bytes


def check_tap(tap: SubmittedTap, keys: Keystore, ledger: CounterLedger) -> TapCheck:
    """Check one tap. The counter is claimed only when the MAC is valid."""
    try:
        master = keys.master_key(tap.key_version)
    except UnknownKeyVersion:
        return TapCheck.UNKNOWN_KEY_VERSION
    try:
        verify_tap_mac(card_key(master, tap.uid, AID, SYSTEM_ID), tap.record, tap.mac)
    except MacMismatch:
        return TapCheck.MAC_MISMATCH
    if not ledger.claim(tap.uid, tap.record.card_counter):
        return TapCheck.COUNTER_REPLAYED
    return TapCheck.ACCEPTED
