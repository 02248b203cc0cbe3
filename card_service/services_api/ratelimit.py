"""Token buckets in process memory, one per key (a client id).

Each process of the service keeps its own buckets: with several worker processes a client's
effective limit is the per-process limit times the number of processes (docs/decisions/0006).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, rate_per_s: float, burst: int, now: float | None = None) -> float:
        """Take one token: 0.0 when admitted, else the seconds until a token is there."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(burst), now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(burst), bucket.tokens + elapsed * rate_per_s)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            if rate_per_s <= 0:
                return 60.0
            return (1.0 - bucket.tokens) / rate_per_s

    def forget(self, key: str) -> None:
        with self._lock:
            self._buckets.pop(key, None)
