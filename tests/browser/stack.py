"""The whole kiosk, for real: card_service and the kiosk runtime served by uvicorn on loopback
ports, the reader driver on a real pcscd with vpcd, a personalised virtual card, localstripe
(Stripe's API, its webhooks to card_service, and its Stripe.js for the kiosk's card page), and
the card_service test helpers (staff, holders, bills) on the same database."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from card_service.api.app import create_app
from card_service.cards.issuing import keystore_for
from card_service.config import Settings
from card_service.db import transaction
from card_service.demo.kiosk import enrol_demo_kiosk
from card_service.ledger import service as ledger
from card_service.ledger.schemas import TransferRequest
from card_service.protocol.keystore import MemoryKeystore
from kiosk_ui.desk import desk_router
from terminals.kiosk.app import create_kiosk_app
from terminals.kiosk.demo_card import personalised_card
from terminals.kiosk.desk import DeskClient, DeskStation, PcscDeskReader, with_transport
from terminals.kiosk.reader import PcscReader
from terminals.kiosk.runtime import KioskConfig, KioskRuntime
from terminals.virtual_card.state import CardFile, CardStore
from tests.api.support import Desk, desk
from tests.payments.rig import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe
from tests.terminals.rig import READER, READER_2, Pcscd, VirtualCard, wait_card

PIN = "2468"
KIOSK_TERMINAL = 9001


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """An ASGI app served by uvicorn in a thread of this process."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning",
            timeout_graceful_shutdown=1, lifespan="on",
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class Stack:
    desk: Desk
    settings: Settings
    service: Served
    kiosk: Served
    runtime: KioskRuntime
    pcscd: Pcscd
    city: MemoryKeystore
    tmp: Path
    transport: bytes = b""
    stripe: LocalStripe | None = None
    cards: list[VirtualCard] = field(default_factory=list)
    holder: str = ""
    number: str = ""
    chip: str = ""

    def card(self, number: str | None = None, chip: str | None = None) -> VirtualCard:
        """The holder's card as a virtual card process (not yet on the reader)."""
        number, chip = number or self.number, chip or self.chip
        state = self.tmp / f"vcard-{number}.json"
        if not state.exists():
            personalised_card(state, self.city, number, uid=bytes.fromhex(chip))
        card = VirtualCard(state, self.pcscd, READER)
        self.cards.append(card)
        return card

    def blank_card(self, uid: str) -> VirtualCard:
        """A blank card (transport key) on the desk's reader, not yet in the field."""
        state = self.tmp / f"blank-{uid}.json"
        CardStore(state).save(CardFile.blank(bytes.fromhex(uid), self.transport))
        card = VirtualCard(state, self.pcscd, READER_2)
        self.cards.append(card)
        return card

    def fund(self, cents: int) -> None:
        with transaction(self.desk.sessions()) as s:
            try:
                source = ledger.find_account(s, "test:funding").id
            except Exception:
                source = ledger.open_account(s, code="test:funding", kind="stripe_clearing").id
            purse = ledger.find_account(s, f"purse:{self.holder}").id
            ledger.create_transfer(s, TransferRequest(uuid.uuid4(), source, purse, cents, "topup"))

    def bill(self, amount: int = 4250, **kw: Any) -> str:
        body = {"issuer": "Empresa Municipal de Aguas", "concept": "Agua, tercer trimestre",
                "amount_cents": amount, "due_date": "2026-12-31"} | kw  # fmt: skip
        r = self.desk.as_("clerk", "POST", "/v1/bills", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["reference"])

    def card_status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.desk.as_("clerk", "GET", f"/v1/cards/{self.number}").json()
        return result


@contextmanager
def kiosk_stack(
    db_url: str, tmp: Path, pcscd: Pcscd, stripe: LocalStripe | None = None, **kiosk: Any
) -> Iterator[Stack]:
    kiosk_port = free_port()
    extra: dict[str, Any] = {
        "keystore_path": tmp / "keystore.json",
        "certificate_verify_url": f"http://127.0.0.1:{kiosk_port}/verify",
    }
    if stripe is not None:
        extra |= {
            "stripe_api_key": SECRET_KEY,
            "stripe_publishable_key": PUBLISHABLE_KEY,
            "stripe_webhook_secret": "whsec_" + secrets.token_hex(16),
            "stripe_api_base": stripe.base,
            "stripe_timeout_s": 5,
            "payments_worker_interval_s": 0,
        }
        kiosk = {"stripe_js_url": f"{stripe.base}/js.stripe.com/v3/"} | kiosk
    with ExitStack() as stack:
        d = stack.enter_context(desk(db_url, tmp, **extra))
        settings = d.settings
        city = keystore_for(settings)
        service = Served(create_app(settings)).start()
        stack.callback(service.stop)
        if stripe is not None:
            stripe.reset()
            assert settings.stripe_webhook_secret is not None
            stripe.send_webhooks_to(
                f"{service.url}/v1/payments/stripe/webhook", settings.stripe_webhook_secret
            )
        identity = tmp / "kiosk-terminal.json"  # enrolled as the demo seed does
        enrol_demo_kiosk(d.sessions(), identity, KIOSK_TERMINAL)
        kiosk = {"identity_path": identity} | kiosk
        runtime = KioskRuntime(KioskConfig(service_url=service.url, **kiosk), city)
        wait_card(READER, present=False)
        reader = PcscReader(city, runtime, READER)
        transport = os.urandom(16)
        station = DeskStation(
            DeskClient(service.url), with_transport(city, transport), PcscDeskReader(READER_2)
        )
        app = create_kiosk_app(runtime, reader, desk=desk_router(station))
        served = Served(app, kiosk_port).start()
        stack.callback(served.stop)
        deadline = time.monotonic() + 10
        while not runtime.reader_up and time.monotonic() < deadline:
            time.sleep(0.02)
        assert runtime.reader_up, "the kiosk's reader did not come up"
        s = Stack(
            d, settings, service, served, runtime, pcscd, city, tmp, transport=transport,
            stripe=stripe,
        )  # fmt: skip
        s.holder = d.person()
        s.chip = "04C1D2E3F4A5B6"
        s.number = d.card(s.holder, pin=PIN, chip=s.chip)["number"]
        try:
            yield s
        finally:
            for card in s.cards:
                card.remove()
