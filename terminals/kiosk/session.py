"""One citizen at the kiosk at a time: card presented -> PIN -> signed in -> ended.

The session ends when the card leaves the reader, after ``idle_timeout_s`` without a touch, or when
the citizen ends it; ending signs out at card_service and pushes ``ended`` to the page, which
clears the screen. An operation in flight (a payment) is never cut in half: ``end`` waits for it,
and what it did is kept as the ``notice`` the welcome screen shows (done with its receipt, or not
done), so a card pulled mid-payment leaves no doubt.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from terminals.kiosk.card import PresentedCard
from terminals.kiosk.client import CardServiceClient, ServiceError, ServiceUnreachable
from terminals.kiosk.events import EventHub

log = logging.getLogger(__name__)


class NoSession(Exception):
    """The page asked for something that needs a signed-in citizen, and there is none."""


@dataclass
class Notice:
    """What the welcome screen says after a session ended with something to report."""

    key: str  # a message key of kiosk_ui's locales
    params: dict[str, Any] = field(default_factory=dict)
    link: str | None = None  # e.g. the receipt of a payment made just before the card left


class KioskSession:
    def __init__(
        self, client: CardServiceClient, hub: EventHub, idle_timeout_s: float = 60.0
    ) -> None:
        self.client = client
        self.hub = hub
        self.idle_timeout_s = idle_timeout_s
        self._cond = threading.Condition()
        self.card: PresentedCard | None = None
        self.token: str | None = None
        self.name: str | None = None
        self.last_touch = time.monotonic()
        self.in_flight = 0
        self.notice: Notice | None = None
        self.ended_reason: str | None = None
        self.documents: dict[str, bytes] = {}  # receipts and certificates of this session
        self.card_payments: dict[str, Any] = {}  # bank-card payments of this session, by op id
        self._holds: dict[str, threading.Timer] = {}
        self._prefetched: dict[str, tuple[float, Any]] = {}
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="kiosk-idle", daemon=True)

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._watchdog.start()

    def stop(self) -> None:
        self._stop.set()
        self._watchdog.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            with self._cond:
                idle = time.monotonic() - self.last_touch
                due = self.card is not None and self.in_flight == 0 and idle > self.idle_timeout_s
            if due:
                self.end("timeout")

    # -- what the reader and the page do ------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.card is not None

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def touch(self) -> None:
        with self._cond:
            self.last_touch = time.monotonic()

    def present(self, card: PresentedCard) -> None:
        if self.card is not None and self.card.number != card.number:
            self.end("card_removed")
        with self._cond:
            self.card, self.token, self.name = card, None, None
            self.notice, self.ended_reason, self.documents = None, None, {}
            self.card_payments = {}
            self._prefetched = {}
            self.last_touch = time.monotonic()
        self.hub.publish("card_ready", card=card.masked)

    def sign_in(self, pin: str) -> None:
        """Raises ServiceError (pin_wrong, pin_blocked, card_state_invalid...) or ServiceUnreachable."""
        with self._cond:
            card = self.card
            if card is None:
                raise NoSession("no card on the reader")
            self.last_touch = time.monotonic()
        token = self.client.sign_in(card.number, pin)
        with self._cond:
            if self.card is not card:  # the card left while the PIN was checked
                with contextlib.suppress(ServiceError, ServiceUnreachable):
                    self.client.sign_out(token)
                raise NoSession("the card left the reader")
            self.token = token

    def prefetched(self, key: str, value: Any) -> None:
        with self._cond:
            self._prefetched[key] = (time.monotonic(), value)

    def take_prefetched(self, key: str, max_age_s: float = 5.0) -> Any:
        """A value fetched ahead of the page that shows it (once, and only while fresh)."""
        with self._cond:
            at, value = self._prefetched.pop(key, (0.0, None))
        return value if time.monotonic() - at <= max_age_s else None

    @contextlib.contextmanager
    def operation(self) -> Iterator[str]:
        """Run one call for the signed-in citizen; ``end`` waits until it is over."""
        with self._cond:
            if self.token is None:
                raise NoSession("nobody is signed in")
            self.in_flight += 1
            self.last_touch = time.monotonic()
            token = self.token
        try:
            yield token
        finally:
            with self._cond:
                self.in_flight -= 1
                self.last_touch = time.monotonic()
                self._cond.notify_all()

    def hold(self, key: str, timeout_s: float = 90.0) -> None:
        """An operation that spans requests (the page confirming a bank-card payment with Stripe):
        ``end`` waits for ``release(key)``, or ``timeout_s`` if the page never reports back."""
        with self._cond:
            if self.token is None:
                raise NoSession("nobody is signed in")
            if key in self._holds:
                return
            timer = threading.Timer(timeout_s, self.release, args=(key,))
            timer.daemon = True
            self._holds[key] = timer
            self.in_flight += 1
            self.last_touch = time.monotonic()
        timer.start()

    def release(self, key: str) -> None:
        with self._cond:
            timer = self._holds.pop(key, None)
            if timer is None:
                return
            timer.cancel()
            self.in_flight -= 1
            self.last_touch = time.monotonic()
            self._cond.notify_all()

    @contextlib.contextmanager
    def holding(self, key: str) -> Iterator[str]:
        """Run one call as part of a held operation (the token even while ``end`` waits)."""
        with self._cond:
            if self.token is None or key not in self._holds:
                raise NoSession("no such operation in flight")
            token = self.token
        yield token

    def remember(self, notice: Notice) -> None:
        """What to tell the citizen if the session ends before the answer reaches the page."""
        with self._cond:
            self.notice = notice

    def end(self, reason: str, wait_s: float = 30.0) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.in_flight == 0, timeout=wait_s)
            # A page that never reported back does not hold the next citizen's session.
            for timer in self._holds.values():
                timer.cancel()
            self.in_flight -= len(self._holds)
            self._holds = {}
            if self.card is None and self.token is None:
                return
            token = self.token
            if reason not in ("card_removed", "timeout"):
                self.notice = None
            # The receipt of a payment made as the card left stays until the next card.
            link = self.notice.link if self.notice else None
            kept = {k: v for k, v in self.documents.items() if link and f"/{k}.pdf" in link}
            self.card, self.token, self.name, self.documents = None, None, None, kept
            self.card_payments = {}
            self._prefetched, self.ended_reason = {}, reason
        if token is not None:
            try:
                self.client.sign_out(token)
            except (ServiceError, ServiceUnreachable) as exc:  # the session expires by itself
                log.info("sign-out failed: %s", exc)
        self.hub.publish("ended", reason=reason)
