from __future__ import annotations

import os

import pytest

from card_service.protocol.apdu import AID, SYSTEM_ID
from card_service.protocol.diversify import card_key
from card_service.protocol.keystore import MemoryKeystore
from card_service.protocol.settlement import MemoryCounterLedger, SubmittedTap, TapCheck, check_tap
from card_service.protocol.tap_record import TapRecord, TapRequest, tap_mac

UID = bytes.fromhex("04A1B2C3D4E5F6")


@pytest.fixture
def keys() -> MemoryKeystore:
    ks = MemoryKeystore()
    ks.add_master(1, os.urandom(16))
    return ks


def _tap(keys: MemoryKeystore, counter: int = 1, version: int = 1) -> SubmittedTap:
    record = TapRecord.of(TapRequest(7, 42, 1_800_000_000, 150), counter)
    key = card_key(keys.master_key(1), UID, AID, SYSTEM_ID)
    return SubmittedTap(UID, version, record, tap_mac(key, record))


def test_genuine_tap_is_accepted_once(keys: MemoryKeystore) -> None:
    ledger = MemoryCounterLedger()
    assert check_tap(_tap(keys), keys, ledger) is TapCheck.ACCEPTED
    assert check_tap(_tap(keys), keys, ledger) is TapCheck.COUNTER_REPLAYED
    assert check_tap(_tap(keys, counter=2), keys, ledger) is TapCheck.ACCEPTED


def test_altered_amount_fails_the_mac(keys: MemoryKeystore) -> None:
    tap = _tap(keys)
    forged = SubmittedTap(
        tap.uid, tap.key_version, TapRecord.of(TapRequest(7, 42, 1_800_000_000, 1), 1), tap.mac
    )
    ledger = MemoryCounterLedger()
    assert check_tap(forged, keys, ledger) is TapCheck.MAC_MISMATCH
    # a forged tap does not burn the counter: the genuine one still settles
    assert check_tap(tap, keys, ledger) is TapCheck.ACCEPTED


def test_mac_from_another_card_fails(keys: MemoryKeystore) -> None:
    tap = _tap(keys)
    other = SubmittedTap(bytes.fromhex("04000000000001"), 1, tap.record, tap.mac)
    assert check_tap(other, keys, MemoryCounterLedger()) is TapCheck.MAC_MISMATCH


def test_unknown_key_version(keys: MemoryKeystore) -> None:
    result = check_tap(_tap(keys, version=9), keys, MemoryCounterLedger())
    assert result is TapCheck.UNKNOWN_KEY_VERSION
    assert result.code == "unknown_key_version"
