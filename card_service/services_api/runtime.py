"""What one process of the service keeps for the service API: client copies, buckets, audit sink."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from card_service.config import Settings
from card_service.db import make_read_sessionmaker
from card_service.identity.crypto import Keyring, keyring_for
from card_service.services_api.audit_sink import AuditSink
from card_service.services_api.credentials import Verifier
from card_service.services_api.prepared import PreparedReads
from card_service.services_api.ratelimit import RateLimiter

log = logging.getLogger(__name__)
_lock = threading.Lock()
RING_CHECK_S = 1.0  # how often a process looks whether the keyring file changed


@dataclass
class Runtime:
    settings: Settings
    reads: sessionmaker[Session]  # read-only sessions (no write lock on SQLite)
    read_engine: Engine  # the fast path's reads (prepared.py)
    verifier: Verifier
    limiter: RateLimiter
    sink: AuditSink
    _local: threading.local = field(default_factory=threading.local)
    _open: list[PreparedReads] = field(default_factory=list)
    _ring: tuple[float, Keyring] | None = None
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _id_prefix: str = field(default_factory=lambda: os.urandom(6).hex())

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.services_timezone)

    def ring(self) -> Keyring:
        """The PII keyring, looked up at most once a second (keyring_for stats the file)."""
        held = self._ring
        if held is None or time.monotonic() - held[0] >= RING_CHECK_S:
            s = self.settings
            held = self._ring = (time.monotonic(), keyring_for(s.pii_keyring, s.pii_keyring_path))
        return held[1]

    def request_id(self) -> str:
        """A request id unique to this process run, without a system call."""
        return f"{self._id_prefix}{next(self._ids):x}"

    def connection(self) -> PreparedReads:
        """This thread's reads (the fast path: one event loop per thread, and the reads of one
        answer run without an await between them, so one DBAPI connection serves them all)."""
        reads: PreparedReads | None = getattr(self._local, "reads", None)
        if reads is None:
            reads = self._local.reads = PreparedReads(self.read_engine)
            with _lock:
                self._open.append(reads)
        return reads

    def drop_connection(self) -> None:
        """After an unexpected error: the next answer gets a fresh connection."""
        reads: PreparedReads | None = getattr(self._local, "reads", None)
        self._local.reads = None
        if reads is not None:
            with _lock:
                if reads in self._open:
                    self._open.remove(reads)
            reads.close()

    def close(self) -> None:
        self.sink.close()
        with _lock:
            conns, self._open = self._open, []
        for conn in conns:
            try:
                conn.close()
            except Exception:  # closing at shutdown: nothing left to save
                log.warning("a fast-path read connection did not close cleanly", exc_info=True)


def runtime(app: Any) -> Runtime:
    """The app's runtime, made on first use (the app's state holds it)."""
    return runtime_of(app.state)


def runtime_of(state: Any) -> Runtime:
    """The same, from the app's state (what a fast-path handler has)."""
    found: Runtime | None = getattr(state, "services_api", None)
    if found is not None:
        return found
    with _lock:
        found = getattr(state, "services_api", None)
        if found is None:
            settings: Settings = state.settings
            limiter = RateLimiter()
            reads = make_read_sessionmaker(state.engine)
            found = Runtime(
                settings,
                reads,
                state.engine,
                Verifier(reads, settings.services_client_cache_s, limiter),
                limiter,
                AuditSink(
                    state.engine,
                    settings.services_audit_wait_s,
                    settings.services_audit_linger_ms / 1000,
                ),
            )
            state.services_api = found
        return found


def close(app: Any) -> None:
    found: Runtime | None = getattr(app.state, "services_api", None)
    if found is not None:
        found.close()
