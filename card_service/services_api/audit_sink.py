"""Group commit for the audit records of service-API queries.

Every question a service asks is audited before its answer leaves, but a read needs no
transaction of its own: each request hands its event to this sink and waits; one writer thread
appends everything that queued meanwhile in one transaction (one lock of the chain's head, one
insert) and then releases the waiting requests. Under load a commit carries hundreds of events;
when idle a request waits for one small commit. If the write fails, the waiting requests answer
503 ``audit_unavailable`` instead of an unaudited answer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from card_service.audit.service import PendingEvent, record_many
from card_service.db import transaction
from card_service.services_api.errors import AuditUnavailable

log = logging.getLogger(__name__)
MAX_GROUP = 2000
IDLE_EXIT_S = 2.0


@dataclass(slots=True)
class _Waiter:
    event: PendingEvent
    done: threading.Event = field(default_factory=threading.Event)
    failed: bool = False


class AuditSink:
    def __init__(self, factory: sessionmaker[Session], wait_s: float = 5.0) -> None:
        self._factory = factory
        self._wait_s = wait_s
        self._queue: list[_Waiter] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def record(self, event: PendingEvent) -> None:
        """Append ``event`` to the trail; returns once it is committed (or raises)."""
        waiter = _Waiter(event)
        with self._cond:
            if self._closed:
                raise AuditUnavailable("the service is shutting down")
            self._queue.append(waiter)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="service-api-audit", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        if not waiter.done.wait(self._wait_s) or waiter.failed:
            raise AuditUnavailable("the audit trail did not record this query: no answer")

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._closed:
                    self._cond.wait(IDLE_EXIT_S)
                if not self._queue:
                    # Idle (or closing): the thread ends; the next record() starts another.
                    self._thread = None
                    return
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            failed = False
            try:
                with transaction(self._factory) as session:
                    record_many(session, [w.event for w in group])
            except Exception:
                log.exception("service API audit records could not be written")
                failed = True
            for w in group:
                w.failed = failed
                w.done.set()

    def close(self) -> None:
        """Write what is queued, then refuse new records."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=self._wait_s)
