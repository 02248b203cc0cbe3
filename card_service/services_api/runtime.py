"""What one process of the service keeps for the service API: client copies, buckets, audit sink."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from card_service.config import Settings
from card_service.db import make_read_sessionmaker
from card_service.services_api.audit_sink import AuditSink
from card_service.services_api.credentials import Verifier
from card_service.services_api.ratelimit import RateLimiter

_lock = threading.Lock()


@dataclass
class Runtime:
    settings: Settings
    reads: sessionmaker[Session]  # read-only sessions (no write lock on SQLite)
    verifier: Verifier
    limiter: RateLimiter
    sink: AuditSink


def runtime(app: Any) -> Runtime:
    """The app's runtime, made on first use (the app's state holds it)."""
    found: Runtime | None = getattr(app.state, "services_api", None)
    if found is not None:
        return found
    with _lock:
        found = getattr(app.state, "services_api", None)
        if found is None:
            settings: Settings = app.state.settings
            limiter = RateLimiter()
            reads = make_read_sessionmaker(app.state.engine)
            found = Runtime(
                settings,
                reads,
                Verifier(reads, settings.services_client_cache_s, limiter),
                limiter,
                AuditSink(app.state.sessionmaker, settings.services_audit_wait_s),
            )
            app.state.services_api = found
        return found


def close(app: Any) -> None:
    found: Runtime | None = getattr(app.state, "services_api", None)
    if found is not None:
        found.sink.close()
