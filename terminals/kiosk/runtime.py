"""The kiosk runtime: one reader, one session, one cash acceptor, one card_service client.

It is the reader's event sink (card presented, identified, refused, removed) and what kiosk_ui's
routes act on. Cash top-ups go through ``TopUp``: ``HttpCashTopUp`` credits each note at once
through payments' kiosk cash (``POST /v1/kiosks/{terminal id}/cash-topups``, signed by this
kiosk's terminal key); a kiosk without a terminal identity uses ``NoTopUp``, which refuses and
hands the cash back.
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
from terminals.kiosk.signing import load_identity, request_signer

log = logging.getLogger(__name__)


@dataclass
class KioskConfig:
    service_url: str = "http://127.0.0.1:8000"
    idle_timeout_s: float = 60.0
    purse_limit_cents: int = 150_00
    network_check_s: float = 3.0
    demo_dir: Path | None = None  # the demo's virtual cards live here (demo reader only)
    identity_path: Path | None = None  # the kiosk's terminal identity: signs every request
    stripe_js_url: str = "https://js.stripe.com/v3/"  # Stripe.js (localstripe's in tests)
    card_payment_wait_s: float = 20.0  # how long to wait for Stripe's confirmation to arrive


class TopUpUnavailable(Exception):
    pass


class TopUp(Protocol):
    def credit_cash(self, card_number: str, cents: int, request_id: str) -> dict[str, Any]: ...


class NoTopUp:
    """A kiosk that is not an enrolled terminal: every top-up is refused (cash handed back)."""

    def credit_cash(self, card_number: str, cents: int, request_id: str) -> dict[str, Any]:
        raise TopUpUnavailable("this kiosk has no terminal identity")


class HttpCashTopUp:
    """Cash credited at once by card_service (payments' kiosk cash), idempotent by request id."""

    def __init__(self, client: CardServiceClient, kiosk_id: int) -> None:
        self.client, self.kiosk_id = client, kiosk_id

    def credit_cash(self, card_number: str, cents: int, request_id: str) -> dict[str, Any]:
        return self.client.cash_topup(self.kiosk_id, card_number, cents, request_id)


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
        identity = None
        if config.identity_path is not None and config.identity_path.exists():
            identity = load_identity(config.identity_path)
        else:
            log.warning("no kiosk terminal identity: requests unsigned, cash top-ups refused")
        sign = request_signer(identity) if identity is not None else None
        self.client = client or CardServiceClient(config.service_url, sign=sign)
        self.hub = EventHub()
        self.session = KioskSession(self.client, self.hub, config.idle_timeout_s)
        self.cash = SoftwareCashAcceptor()
        fallback = (
            NoTopUp() if identity is None else HttpCashTopUp(self.client, identity.terminal_id)
        )
        self.topup: TopUp = topup or fallback
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

    def insert_cash(self, cents: int) -> tuple[str, str | None]:
        """The demo acceptor's note: refused over the limit, else credited at once (or handed
        back). The outcome's word, and the name of the receipt PDF kept in the session."""
        from terminals.kiosk.client import ServiceError, ServiceUnreachable
        from terminals.kiosk.session import NoSession

        try:
            self.cash.insert(cents)
        except CashRefused as exc:
            return ("topup_over_limit" if exc.code == "purse_limit" else "topup_unavailable"), None
        try:
            with self.session.operation() as token:
                card = self.session.card
                assert card is not None
                done = self.topup.credit_cash(card.number, cents, str(uuid.uuid4()))
                receipt = f"topup-{done['id']}"
                try:
                    pdf = self.client.cash_receipt_pdf(token, str(done["id"]))
                    self.session.documents[receipt] = pdf
                except (ServiceError, ServiceUnreachable) as exc:  # credited; PDF later
                    log.info("cash receipt not fetched: %s", exc)
                    receipt = ""
        except TopUpUnavailable:
            self.cash.close()  # hand the cash back
            return "topup_unavailable", None
        except ServiceError as exc:
            self.cash.hand_back(cents)
            log.info("cash top-up refused: %s", exc)
            over = exc.code == "purse_limit_exceeded"
            return ("topup_over_limit" if over else "topup_refused"), None
        except (ServiceUnreachable, NoSession) as exc:
            # Lost on the way: the note goes back. A retry with the same request id never ran,
            # so a credit whose answer was lost stays (the day's closing shows it as over).
            self.cash.hand_back(cents)
            log.warning("cash top-up not confirmed, note handed back: %s", exc)
            return "topup_failed", None
        return "topup_done", receipt or None

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
