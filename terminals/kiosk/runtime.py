"""The kiosk runtime: one reader, one session, one cash acceptor, one card_service client.

It is the reader's event sink (card presented, identified, refused, removed) and what kiosk_ui's
routes act on. Top-ups go through ``TopUp``: crediting the purse (kiosk cash, bank card through
Stripe's hosted payment) belongs to the payments work stream; until it lands, ``NoTopUp`` refuses
and the acceptor hands the cash back.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from card_service.protocol.keystore import Keystore
from terminals.kiosk.card import PresentedCard
from terminals.kiosk.cash import CashRefused, SoftwareCashAcceptor
from terminals.kiosk.client import CardServiceClient
from terminals.kiosk.events import EventHub
from terminals.kiosk.session import KioskSession

log = logging.getLogger(__name__)


@dataclass
class KioskConfig:
    service_url: str = "http://127.0.0.1:8000"
    idle_timeout_s: float = 60.0
    purse_limit_cents: int = 150_00
    network_check_s: float = 3.0
    demo_dir: Path | None = None  # the demo's virtual cards live here (demo reader only)


class TopUpUnavailable(Exception):
    pass


class TopUp(Protocol):
    def credit_cash(self, token: str, cents: int, client_id: str) -> dict[str, Any]: ...


class NoTopUp:
    """Until payments lands: every top-up is refused (and the cash handed back)."""

    def credit_cash(self, token: str, cents: int, client_id: str) -> dict[str, Any]:
        raise TopUpUnavailable("top-ups arrive with the payments work stream")


class KioskRuntime:
    def __init__(
        self,
        config: KioskConfig,
        keys: Keystore,
        client: CardServiceClient | None = None,
        topup: TopUp | None = None,
    ) -> None:
        self.config = config
        self.keys = keys
        self.client = client or CardServiceClient(config.service_url)
        self.hub = EventHub()
        self.session = KioskSession(self.client, self.hub, config.idle_timeout_s)
        self.cash = SoftwareCashAcceptor()
        self.topup: TopUp = topup or NoTopUp()
        self.reader: Any = None
        self.reader_up = False
        self.network_up = True
        self.last_presented_at: float | None = None
        self.demo_number: str | None = None
        self._stop = threading.Event()
        self._net = threading.Thread(target=self._watch_network, name="kiosk-net", daemon=True)

    # -- life cycle -----------------------------------------------------------------------------

    def start(self, reader: Any) -> None:
        self.reader = reader
        self.session.start()
        reader.start()
        self._net.start()

    def stop(self) -> None:
        self._stop.set()
        if self.reader is not None:
            self.reader.stop()
        self.session.stop()
        self._net.join(timeout=5)
        self.client.close()

    def state(self) -> dict[str, Any]:
        s = self.session
        return {
            "card": s.card.masked if s.card else None,
            "signed_in": s.signed_in,
            "ended": s.ended_reason if s.card is None else None,
            "reader": self.reader_up,
            "network": self.network_up,
        }

    def _publish_status(self) -> None:
        self.hub.publish("status", reader=self.reader_up, network=self.network_up)

    def _watch_network(self) -> None:
        while not self._stop.wait(self.config.network_check_s):
            up = self.client.reachable()
            if up != self.network_up:
                self.network_up = up
                self._publish_status()

    def network_lost(self) -> None:
        if self.network_up:
            self.network_up = False
            self._publish_status()

    # -- reader events (ReaderEvents) -------------------------------------------------------------

    def presented(self, reported_at: float) -> None:
        self.last_presented_at = reported_at
        self.hub.publish("card_presented", reported_ms=reported_at * 1000)

    def identified(self, card: PresentedCard) -> None:
        self.session.present(card)

    def refused(self, code: str, detail: str) -> None:
        log.info("card refused: %s (%s)", code, detail)
        self.hub.publish("card_refused", code=code)

    def removed(self) -> None:
        self.cash.close()
        if self.session.active:
            self.session.end("card_removed")
        else:
            self.hub.publish("ended", reason="card_removed")

    def status(self, available: bool) -> None:
        self.reader_up = available
        self._publish_status()

    def prefetch_home(self) -> None:
        """Right after the PIN: the name and the balance at once, in parallel, so the home
        screen that follows renders without waiting on card_service again."""
        from concurrent.futures import ThreadPoolExecutor

        from terminals.kiosk.client import ServiceError, ServiceUnreachable
        from terminals.kiosk.session import NoSession

        try:
            with self.session.operation() as token, ThreadPoolExecutor(2) as pool:
                name = pool.submit(self.client.overview, token)
                purse = pool.submit(self.client.balance, token)
                self.session.name = name.result().get("name") or ""
                self.session.prefetched("balance", purse.result())
        except (NoSession, ServiceError, ServiceUnreachable) as exc:
            log.info("home prefetch failed (the page fetches again): %s", exc)

    # -- cash ---------------------------------------------------------------------------------

    def open_cash(self, room_cents: int) -> None:
        self.cash.open(room_cents, lambda cents: None)

    def insert_cash(self, cents: int) -> str:
        """The demo acceptor's note: refused over the limit, else credited (or handed back)."""
        try:
            self.cash.insert(cents)
        except CashRefused as exc:
            return "topup_over_limit" if exc.code == "purse_limit" else "topup_unavailable"
        try:
            with self.session.operation() as token:
                self.topup.credit_cash(token, cents, uuid.uuid4().hex)
        except TopUpUnavailable:
            self.cash.close()  # hand the cash back
            return "topup_unavailable"
        return "topup_done"

    # -- the demo's virtual card ----------------------------------------------------------------

    def demo_panel(self) -> dict[str, Any] | None:
        from terminals.kiosk.reader import DemoReader

        if not isinstance(self.reader, DemoReader):
            return None
        return {"number": self.demo_number}

    def demo_put(self, number: str) -> None:
        from terminals.kiosk.demo_card import demo_card
        from terminals.kiosk.reader import DemoReader

        if not isinstance(self.reader, DemoReader) or self.config.demo_dir is None:
            return
        if not (len(number) == 16 and number.isdigit()):
            self.refused("card_unreadable", "not a card number")
            return
        self.demo_number = number
        state = demo_card(self.config.demo_dir, self.keys, number)
        threading.Thread(target=self.reader.put, args=(state,), daemon=True).start()

    def demo_take(self) -> None:
        from terminals.kiosk.reader import DemoReader

        if isinstance(self.reader, DemoReader):
            self.reader.take()
