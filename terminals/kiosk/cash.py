"""The cash acceptor: the device that takes notes and coins at the kiosk.

``CashAcceptor`` is the interface a real device driver implements (bill validators speak ccTalk,
MDB or a vendor SDK; the driver maps them to this). The kiosk opens a session with the most it may
take (the purse limit less the balance), gets each accepted insertion as a callback, and closes
it; a note that would exceed the limit is refused by the device, never taken. Crediting the purse
is a separate step (payments' kiosk cash top-up); a note card_service did not credit is handed
back (``hand_back``: a real acceptor holds the last note in escrow until it is credited).

``SoftwareCashAcceptor`` is the demo device: the page's "insert note" buttons feed it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

DENOMINATIONS_CENTS = (500, 1000, 2000, 5000, 100, 200)

Inserted = Callable[[int], None]


class CashRefused(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class CashAcceptor(Protocol):
    def open(self, max_total_cents: int, on_inserted: Inserted) -> None:
        """Start taking cash; never take more than ``max_total_cents`` in all."""

    def close(self) -> int:
        """Stop taking cash; the total taken in this session."""

    def hand_back(self, cents: int) -> None:
        """Return the note just taken (from escrow): it was not credited."""

    @property
    def total_cents(self) -> int: ...


class SoftwareCashAcceptor:
    """A cash acceptor in software, for the demo and the tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._max: int | None = None
        self._total = 0
        self._on_inserted: Inserted | None = None

    def open(self, max_total_cents: int, on_inserted: Inserted) -> None:
        with self._lock:
            self._max, self._total, self._on_inserted = max_total_cents, 0, on_inserted

    def close(self) -> int:
        with self._lock:
            total, self._max, self._on_inserted = self._total, None, None
            return total

    @property
    def total_cents(self) -> int:
        return self._total

    def hand_back(self, cents: int) -> None:
        with self._lock:
            self._total = max(0, self._total - cents)

    def insert(self, cents: int) -> None:
        """A note or coin in the slot: taken, or handed back with the reason."""
        with self._lock:
            if self._max is None or self._on_inserted is None:
                raise CashRefused("cash_closed", "the acceptor is not taking cash now")
            if cents not in DENOMINATIONS_CENTS:
                raise CashRefused("cash_denomination", f"{cents} cents is not accepted")
            if self._total + cents > self._max:
                raise CashRefused("purse_limit", "this would take the purse over its limit")
            self._total += cents
            callback = self._on_inserted
        callback(cents)
