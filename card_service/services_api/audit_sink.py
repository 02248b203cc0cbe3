"""Group commit for the audit records of service-API queries.

Every question a service asks is audited before its answer leaves, but a read needs no
transaction of its own: each request hands its event to this sink and waits; one writer thread
appends everything that queued meanwhile in one transaction (one lock of the chain's head, one
insert; audit_writer.py, prebuilt statements on a DBAPI connection the writer keeps while it
runs) and then releases the waiting requests. Under load a commit carries hundreds of events;
when idle a request waits for one small commit. After the first record of a group arrives the
writer lingers ``services_audit_linger_ms`` to collect more (a commit costs about the same for
one record as for hundreds). If the write fails, the waiting requests answer
503 ``audit_unavailable`` instead of an unaudited answer.

A thread-pool request waits on a threading.Event (``record``); a request served on the event loop
(the fast path, api/fast.py) awaits an asyncio future instead (``arecord``), so one worker process
keeps hundreds of questions in flight while their records are committed together. The writer wakes
each event loop once per group, not once per record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine

from card_service.audit.service import PendingEvent
from card_service.services_api.audit_wal import Checkpointer, WriterTurn
from card_service.services_api.audit_writer import AuditWriter
from card_service.services_api.errors import AuditUnavailable

log = logging.getLogger(__name__)
MAX_GROUP = 2000
IDLE_EXIT_S = 2.0


@dataclass(slots=True)
class _Waiter:
    event: PendingEvent
    done: threading.Event | None = field(default_factory=threading.Event)
    failed: bool = False
    future: asyncio.Future[bool] | None = None  # for a waiter on an event loop


def _settle(futures: list[asyncio.Future[bool]], failed: bool) -> None:
    for f in futures:
        if not f.done():
            f.set_result(not failed)


def _give_up(future: asyncio.Future[bool]) -> None:
    """The commit took longer than the sink's wait: the question is answered 503."""
    if not future.done():
        future.set_result(False)


class AuditSink:
    def __init__(self, engine: Engine, wait_s: float = 5.0, linger_s: float = 0.0) -> None:
        self._engine = engine
        self._wait_s = wait_s
        self._linger_s = linger_s
        self._queue: list[_Waiter] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def record(self, event: PendingEvent) -> None:
        """Append ``event`` to the trail; returns once it is committed (or raises)."""
        waiter = _Waiter(event)
        self._enqueue(waiter)
        assert waiter.done is not None
        if not waiter.done.wait(self._wait_s) or waiter.failed:
            raise AuditUnavailable("the audit trail did not record this query: no answer")

    async def arecord(self, event: PendingEvent) -> None:
        """``record`` for a caller on an event loop: awaits the commit without blocking it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._enqueue(_Waiter(event, None, False, future))
        # A plain timer rather than asyncio.timeout(): a third of its CPU, the same deadline.
        timer = loop.call_later(self._wait_s, _give_up, future)
        try:
            ok = await future
        finally:
            timer.cancel()
        if not ok:
            raise AuditUnavailable("the audit trail did not record this query: no answer")

    def _enqueue(self, waiter: _Waiter) -> None:
        with self._cond:
            if self._closed:
                raise AuditUnavailable("the service is shutting down")
            self._queue.append(waiter)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="service-api-audit", daemon=True
                )
                self._thread.start()
            # Wake the writer when it waits for a first record, or when a group is full; not
            # for every record it is lingering to collect.
            if len(self._queue) == 1 or len(self._queue) >= MAX_GROUP:
                self._cond.notify()

    def _run(self) -> None:
        writer, turn = AuditWriter(self._engine), WriterTurn(self._engine)
        checkpointer = Checkpointer(self._engine)
        try:
            self._serve(writer, turn, checkpointer)
        finally:
            checkpointer.close()
            turn.close()
            writer.close()

    def _serve(self, writer: AuditWriter, turn: WriterTurn, checkpointer: Checkpointer) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._closed:
                    self._cond.wait(IDLE_EXIT_S)
                if not self._queue:
                    # Idle (or closing): the thread ends; the next record() starts another.
                    self._thread = None
                    return
                if self._linger_s and len(self._queue) < MAX_GROUP and not self._closed:
                    # Collect the questions that arrive meanwhile: a commit costs the same for
                    # one record as for hundreds (one lock of the chain's head, one fsync).
                    self._cond.wait(self._linger_s)
            failed = False
            with turn:  # SQLite: the other workers' writers go first (audit_wal.py)
                with self._cond:  # and whatever queued while they did joins this group
                    group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                try:
                    writer.write([w.event for w in group])
                except Exception:
                    log.exception("service API audit records could not be written")
                    failed = True
            if not failed:
                checkpointer.committed()
            loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[bool]]] = {}
            for w in group:
                w.failed = failed
                if w.future is not None:
                    loops.setdefault(w.future.get_loop(), []).append(w.future)
                elif w.done is not None:
                    w.done.set()
            for loop, futures in loops.items():
                # A loop that has closed has nobody waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_settle, futures, failed)

    def close(self) -> None:
        """Write what is queued, then refuse new records."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=self._wait_s)
