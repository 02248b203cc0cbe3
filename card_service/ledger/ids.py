"""Transfer ids for clients: time-ordered UUIDs (the UUIDv7 layout of RFC 9562).

Any UUID is accepted, but ids that grow with time land at the end of the ledger's id index
instead of at random places in it, which keeps inserts fast; TigerBeetle advises the same. On
SQLite, a batch does not look up the ids above the largest one stored, so a fresh upload of
time-ordered ids costs no lookups at all (store_sqlite.SQLiteStore._fetch_named).
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_seq = 0


def time_ordered_id() -> uuid.UUID:
    """48 bits of Unix milliseconds, version 7, a 12-bit counter within the millisecond, random."""
    global _last_ms, _seq
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _seq += 1
            if _seq > 0xFFF:
                ms += 1
                _seq = 0
        else:
            _seq = 0
        _last_ms = ms
        seq = _seq
    rand = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand
    return uuid.UUID(int=value)
