"""Ledger time: integer nanoseconds since the epoch, never going backwards within a process."""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_last = 0


def now_ns() -> int:
    global _last
    with _lock:
        _last = max(time.time_ns(), _last + 1)
        return _last
