"""The fare rules in force, remembered by each process for a second (read-only questions only).

Every eligibility or quote question needs the rules in force; the catalogue's ``in_force`` is one
query per call. A version never takes effect in the past, so a process's copy can only be late by
``MAX_AGE_S`` when a new version takes effect; charges always read the rules afresh.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy.orm import Session

from card_service.catalogue.service import in_force
from card_service.protocol.fees import FareRules

MAX_AGE_S = 1.0
_lock = threading.Lock()
_cache: dict[str, tuple[float, FareRules]] = {}


def rules_now(session: Session, now: datetime) -> FareRules:
    bind = session.get_bind()
    key = str(bind.engine.url)
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < MAX_AGE_S:
        return hit[1]
    rules = in_force(session, now)
    with _lock:
        _cache[key] = (time.monotonic(), rules)
    return rules
