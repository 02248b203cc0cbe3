"""Watch readers and cards, and run each card transaction on a worker thread.

pyscard's ``CardMonitor`` runs its own thread and calls ``CardObserver.update`` there; the observer
only hands the card to a one-thread executor, so a slow card never blocks event delivery. A
supervisor thread keeps the monitor alive: when pcscd goes away, pyscard's monitoring thread ends
(SCARD_E_NO_SERVICE); the supervisor reports ``ReaderUnavailable``, waits for pcscd to answer
again, and starts a fresh monitor. pyscard's ``CardMonitor`` is a process-wide singleton, so one
``ReaderWatcher`` runs per process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from smartcard.CardMonitoring import CardMonitor, CardMonitoringThread, CardObserver
from smartcard.scard import (
    SCARD_S_SUCCESS,
    SCARD_SCOPE_USER,
    SCardCancel,
    SCardEstablishContext,
    SCardListReaders,
    SCardReleaseContext,
)

from terminals.pcsc.channel import PcscChannel
from terminals.pcsc.errors import ReaderUnavailable

log = logging.getLogger(__name__)

CardHandler = Callable[[PcscChannel, str], object]
ResultHandler = Callable[[object, str], None]
StatusHandler = Callable[[str, Exception | None], None]


def pcsc_available(tries: int = 3) -> bool:
    """True when pcscd answers (a context can be established and readers listed).

    libpcsclite can refuse a context for a moment while pcscd is busy accepting clients, so a
    refusal counts only when it repeats."""
    for attempt in range(tries):
        hresult, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
        if hresult == SCARD_S_SUCCESS:
            break
        if attempt + 1 < tries:
            time.sleep(0.02)
    else:
        return False
    try:
        hresult, _readers = SCardListReaders(ctx, [])
        return bool(hresult == SCARD_S_SUCCESS)
    finally:
        SCardReleaseContext(ctx)


class _Observer(CardObserver):  # type: ignore[misc]
    def __init__(self, watcher: ReaderWatcher) -> None:
        self.watcher = watcher

    def update(self, observable: Any, handlers: tuple[list[Any], list[Any]]) -> None:
        added, removed = handlers
        # pyscard compares cards by (reader, ATR): a card whose reported ATR flickers (power
        # state changes, a card on its way out) shows as removed and added in one update.
        # That is not a new presentation; acting on it would run a second tap on one card.
        swapped = {str(c.reader) for c in added} & {str(c.reader) for c in removed}
        for card in removed:
            if str(card.reader) not in swapped:
                self.watcher._on_removed(card)
        for card in added:
            if str(card.reader) not in swapped and list(card.atr):
                self.watcher._on_added(card)


class ReaderWatcher:
    """Calls ``on_card(channel, reader_name)`` on a worker for every card put on a reader.

    ``on_result(result, reader_name)`` gets what ``on_card`` returned (or the exception it raised)
    once the card is released; ``on_status("available" | "unavailable", error)`` reports pcscd.
    """

    def __init__(
        self,
        on_card: CardHandler,
        on_status: StatusHandler | None = None,
        on_result: ResultHandler | None = None,
        reader_filter: Callable[[str], bool] = lambda name: True,
        check_interval_s: float = 0.25,
    ) -> None:
        self.on_card = on_card
        self.on_status = on_status or (lambda status, error: None)
        self.on_result = on_result or (lambda result, reader: None)
        self.reader_filter = reader_filter
        self.check_interval_s = check_interval_s
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="card-worker")
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="pcsc-supervisor")
        self._supervisor.daemon = True
        self._observer = _Observer(self)
        self.available = threading.Event()
        self.restarts = 0
        self._status = ""
        self._present: set[str] = set()  # readers with a card, touched on the monitor thread

    # -- life cycle --------------------------------------------------------------------------

    _active: ReaderWatcher | None = None
    _active_lock = threading.Lock()

    def start(self) -> ReaderWatcher:
        with ReaderWatcher._active_lock:
            if ReaderWatcher._active is not None:
                raise RuntimeError("one ReaderWatcher per process (pyscard's CardMonitor is one)")
            ReaderWatcher._active = self
        self._supervisor.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._supervisor.join(timeout=10)
        self.worker.shutdown(wait=True)
        with ReaderWatcher._active_lock:
            if ReaderWatcher._active is self:
                ReaderWatcher._active = None

    def __enter__(self) -> ReaderWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- supervision -------------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stop.is_set():
            if not pcsc_available():
                self._set_unavailable()
                self._stop.wait(self.check_interval_s)
                continue
            self._present.clear()
            monitor = CardMonitor()
            monitor.addObserver(self._observer)
            self.available.set()
            self._report("available", None)
            while not self._stop.wait(self.check_interval_s):
                thread = CardMonitoringThread.instance
                if thread is None or not thread.is_alive() or not pcsc_available():
                    log.info(
                        "restarting card monitor (thread=%s, pcscd up=%s)", thread, pcsc_available()
                    )
                    break
            self._detach(monitor)
            if not self._stop.is_set():
                self.restarts += 1
                self._set_unavailable()

    def _set_unavailable(self) -> None:
        self.available.clear()
        self._report("unavailable", ReaderUnavailable("pcscd does not answer"))

    def _report(self, status: str, error: Exception | None) -> None:
        if status != self._status:
            self._status = status
            self.on_status(status, error)

    def _detach(self, monitor: Any) -> None:
        """Stop pyscard's monitoring thread and forget its singletons, so the next
        ``CardMonitor()`` starts a fresh thread with a fresh PC/SC context."""
        with contextlib.suppress(Exception):
            monitor.deleteObserver(self._observer)
        thread = CardMonitoringThread.instance
        if thread is not None:
            thread.stop()
            inner = getattr(getattr(thread, "cardrequest", None), "pcsccardrequest", None)
            hcontext = getattr(inner, "hcontext", None)
            deadline = time.monotonic() + 5
            while thread.is_alive() and time.monotonic() < deadline:
                if hcontext is not None:  # wake its SCardGetStatusChange, not at its 60 s timeout
                    with contextlib.suppress(Exception):
                        SCardCancel(hcontext)
                thread.join(timeout=0.05)  # a cancel sent between two waits is lost: repeat
            if inner is not None:
                with contextlib.suppress(Exception):
                    inner.release()
                inner.hcontext = None  # pcscd gone: do not let __del__ raise later
        with CardMonitor.lock:
            CardMonitor.instance = None
        with CardMonitoringThread.lock:
            CardMonitoringThread.instance = None

    # -- card events (monitor thread) --------------------------------------------------------

    def _on_added(self, card: Any) -> None:
        reader = str(card.reader)
        if reader in self._present or not self.reader_filter(reader):
            return  # one transaction per presentation
        self._present.add(reader)
        self.worker.submit(self._transaction, card, reader)

    def _on_removed(self, card: Any) -> None:
        self._present.discard(str(card.reader))

    # -- card transactions (worker thread) ---------------------------------------------------

    def _transaction(self, card: Any, reader: str) -> None:
        result: object
        try:
            channel = PcscChannel.open(card)
        except Exception as exc:  # card gone before we connected, pcscd gone...
            result = exc
        else:
            try:
                result = self.on_card(channel, reader)
            except Exception as exc:  # a handler error must not kill the worker
                log.warning("card handler raised %s: %s", type(exc).__name__, exc)
                result = exc
            finally:
                channel.close()
        try:
            self.on_result(result, reader)
        except Exception:
            log.exception("result handler failed")
