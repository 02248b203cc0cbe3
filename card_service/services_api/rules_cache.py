"""The fare rules in force, remembered by each process for a second (read-only questions only).

Every eligibility or quote question needs the rules in force; the catalogue's ``in_force`` is one
query per call. A version never takes effect in the past, so a process's copy can only be late by
``MAX_AGE_S`` when a new version takes effect; charges always read the rules afresh.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from card_service.catalogue.service import in_force
from card_service.protocol.fees import FareRules

MAX_AGE_S = 1.0
_lock = threading.Lock()
_cache: dict[str, tuple[float, FareRules]] = {}
_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _cached(key: str, load: Callable[[], FareRules]) -> FareRules:
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < MAX_AGE_S:
        return hit[1]
    rules = load()
    with _lock:
        _cache[key] = (time.monotonic(), rules)
    return rules


def rules_now(session: Session, now: datetime) -> FareRules:
    return _cached(str(session.get_bind().engine.url), lambda: in_force(session, now))


def rules_of(engine: Engine, reads: sessionmaker[Session], now: datetime) -> FareRules:
    """The same copy, for a caller that reads through a Connection (a session only on a miss)."""

    def load() -> FareRules:
        with reads() as session:
            return in_force(session, now)

    key = _keys.get(engine)
    if key is None:
        key = _keys[engine] = str(engine.url)  # rendering a URL costs more than the lookup
    return _cached(key, load)
