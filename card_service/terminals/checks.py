"""The card side of a tap at settlement: is it a tap this card really made, counted once?

Per tap the card key is re-derived from the master key (AN10922) and the record's MAC checked;
derived tap keys are cached per (key version, UID), since a city's cards tap again and again.
Counters are then claimed for the whole batch in one statement (``DbCounterLedger.claim_many``).
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Sequence

from card_service.protocol.aes import cmac
from card_service.protocol.apdu import AID, SYSTEM_ID
from card_service.protocol.diversify import card_key
from card_service.protocol.errors import MalformedInput, UnknownKeyVersion
from card_service.protocol.keystore import Keystore
from card_service.protocol.session import truncate_mac
from card_service.protocol.settlement import TapCheck
from card_service.protocol.tap_record import tap_key
from card_service.protocol.terminal_wire import WireTap
from card_service.terminals.counters import DbCounterLedger

_CACHE_SIZE = 400_000


class TapKeys:
    """Tap MAC keys by (key version, UID), derived on first use (bounded LRU)."""

    def __init__(self, keys: Keystore, size: int = _CACHE_SIZE) -> None:
        self.keys = keys
        self.size = size
        self._cache: OrderedDict[tuple[int, bytes], bytes] = OrderedDict()

    def get(self, version: int, uid: bytes) -> bytes:
        entry = (version, uid)
        key = self._cache.get(entry)
        if key is None:
            key = tap_key(card_key(self.keys.master_key(version), uid, AID, SYSTEM_ID))
            self._cache[entry] = key
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return key


def check_mac(tap: WireTap, keys: TapKeys) -> TapCheck:
    """The MAC part of ``protocol.settlement.check_tap``, with the cached key."""
    try:
        key = keys.get(tap.key_version, tap.uid)
    except UnknownKeyVersion:
        return TapCheck.UNKNOWN_KEY_VERSION
    except MalformedInput:
        return TapCheck.MAC_MISMATCH  # a UID no card can have
    expected = truncate_mac(cmac(key, tap.record.to_bytes()))
    if not hmac.compare_digest(expected, tap.mac):
        return TapCheck.MAC_MISMATCH
    return TapCheck.ACCEPTED


def claim_counters(counters: DbCounterLedger, taps: Sequence[WireTap]) -> list[bool]:
    """For each tap (in order), whether its (UID, counter) was claimed by it; the first of two
    equal pairs in one batch wins."""
    pairs = [(t.uid, t.record.card_counter) for t in taps]
    claimed = counters.claim_many(pairs)
    out = []
    for pair in pairs:
        out.append(pair in claimed)
        claimed.discard(pair)
    return out
