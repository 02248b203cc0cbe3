"""The card side of a tap at settlement: is it a tap this card really made, counted once?

Per tap the card key is re-derived from the master key (AN10922) and the record's MAC checked;
derived tap keys are cached per (key version, UID), since a city's cards tap again and again, as
a keyed CMAC context that each check copies (the AES key schedule is done once per card).
Counters are then claimed for the whole batch in one statement (``DbCounterLedger.refuse_many``).
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

from card_service.protocol.apdu import AID, SYSTEM_ID
from card_service.protocol.diversify import card_key
from card_service.protocol.errors import MalformedInput, UnknownKeyVersion
from card_service.protocol.keystore import Keystore
from card_service.protocol.session import truncate_mac
from card_service.protocol.settlement import TapCheck
from card_service.protocol.tap_record import tap_key
from card_service.terminals.counters import DbCounterLedger
from card_service.terminals.wire import Tap

_CACHE_SIZE = 400_000


class TapKeys:
    """Tap MAC contexts by (key version, UID), derived on first use (bounded LRU)."""

    def __init__(self, keys: Keystore, size: int = _CACHE_SIZE) -> None:
        self.keys = keys
        self.size = size
        self._cache: OrderedDict[tuple[int, bytes], CMAC] = OrderedDict()

    def get(self, version: int, uid: bytes) -> CMAC:
        """A CMAC context keyed with the card's tap key (copy it before use)."""
        entry = (version, uid)
        key = self._cache.get(entry)
        if key is None:
            raw = tap_key(card_key(self.keys.master_key(version), uid, AID, SYSTEM_ID))
            key = self._cache[entry] = CMAC(algorithms.AES(raw))
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return key


def check_mac(tap: Tap, keys: TapKeys) -> TapCheck:
    """The MAC part of ``protocol.settlement.check_tap``, with the cached key."""
    try:
        mac = keys.get(tap.key_version, tap.uid).copy()
    except UnknownKeyVersion:
        return TapCheck.UNKNOWN_KEY_VERSION
    except MalformedInput:
        return TapCheck.MAC_MISMATCH  # a UID no card can have
    mac.update(tap.record)
    expected = truncate_mac(mac.finalize())
    if not hmac.compare_digest(expected, tap.mac):
        return TapCheck.MAC_MISMATCH
    return TapCheck.ACCEPTED


def claim_counters(counters: DbCounterLedger, taps: Sequence[Tap]) -> list[bool]:
    """For each tap (in order), whether its (UID, counter) was claimed by it; the first of two
    equal pairs in one batch wins."""
    pairs = [(t.uid, t.counter) for t in taps]
    refused = counters.refuse_many(pairs)
    if not refused and len(set(pairs)) == len(pairs):
        return [True] * len(pairs)  # the usual batch: every counter new, none twice
    out = []
    for pair in pairs:
        out.append(pair not in refused)
        refused.add(pair)  # a second tap with this pair is a replay
    return out
