"""The payments test rig: localstripe, our app served on a loopback port, a holder with a card.

localstripe is the real `localstripe` server from PyPI (a stateful fake of Stripe's API); the
`stripe` library talks to it through `stripe_api_base`. It delivers webhooks itself, signed
with the secret configured through its `/_config/webhooks/...` endpoint, one second after the
event. What it lacks (disputes, charge.refunded events, idempotency keys, retries of failed
deliveries) the tests say where they stand in for it.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import stripe
import uvicorn
from sqlalchemy import select

from card_service.api.app import create_app
from card_service.config import Settings
from card_service.db import transaction
from card_service.payments.models import StripeEvent, TopUp
from card_service.payments.reconcile import Report, reconcile
from card_service.staff.roles import Role
from tests.api.support import Desk

HERE = Path(__file__).resolve().parent
SECRET_KEY = "sk_test_cardservice"
PUBLISHABLE_KEY = "pk_test_cardservice"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class LocalStripe:
    """A localstripe process for the test session."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "localstripe_server.py"), str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.http = httpx.Client(base_url=self.base, headers=self.auth, timeout=10)
        wait_until(self._up, 20, "localstripe to start")

    auth = {"Authorization": f"Bearer {SECRET_KEY}"}

    def _up(self) -> bool:
        try:
            return self.http.get("/v1/balance").status_code == 200
        except httpx.TransportError:
            return False

    def reset(self) -> None:
        assert self.http.delete("/_config/data").status_code == 200

    def send_webhooks_to(self, url: str, secret: str) -> None:
        r = self.http.post("/_config/webhooks/cs", data={"url": url, "secret": secret})
        assert r.status_code == 200, r.text

    def pay(self, intent_id: str, method: str = "pm_card_visa") -> httpx.Response:
        """What Stripe's payment element does in the holder's browser: attach the card, confirm.
        (Stripe.js confirms with the publishable key and the client secret; localstripe's
        confirm wants the secret key, so the test uses that.)"""
        r = self.http.post(f"/v1/payment_intents/{intent_id}", data={"payment_method": method})
        assert r.status_code == 200, r.text
        return self.http.post(f"/v1/payment_intents/{intent_id}/confirm")

    def confirm_setup(self, client_secret: str, method: str = "pm_card_visa") -> str:
        """Stripe's element saving a card for later (with the publishable key)."""
        setup_id = client_secret.split("_secret_")[0]
        r = httpx.post(
            f"{self.base}/v1/setup_intents/{setup_id}/confirm",
            data={"client_secret": client_secret, "payment_method": method,
                  "key": PUBLISHABLE_KEY},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        return setup_id

    def list(self, path: str) -> list[dict[str, Any]]:
        r = self.http.get(path, params={"limit": 100})
        assert r.status_code == 200, r.text
        data: list[dict[str, Any]] = r.json()["data"]
        return data

    def get(self, path: str) -> dict[str, Any]:
        r = self.http.get(path)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(10)


def settings_for(url: str, tmp_path: Path, stripe_base: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "ledger_maintenance_interval_s": 0,
        "payments_worker_interval_s": 0,
        "pii_keyring_path": tmp_path / "pii-keyring.json",
        "stripe_api_key": SECRET_KEY,
        "stripe_publishable_key": PUBLISHABLE_KEY,
        "stripe_webhook_secret": "whsec_" + secrets.token_hex(16),
        "stripe_api_base": stripe_base,
        "stripe_timeout_s": 5,
        "stripe_max_network_retries": 2,
    }
    return Settings(**(values | extra))


class Served:
    """Our app under uvicorn in a thread, on a loopback port: Stripe's webhooks reach it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, 20, "the app to start")

    @property
    def webhook_url(self) -> str:
        return f"{self.base}/v1/payments/stripe/webhook"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


class Counter(Desk):
    """Desk helpers over real HTTP (staff, holders, cards, citizen sessions) plus payments."""

    def __init__(self, served: Served, stripe_fake: LocalStripe) -> None:
        super().__init__(httpx.Client(base_url=served.base, timeout=30), served.settings)  # type: ignore[arg-type]
        self.served = served
        self.stripe = stripe_fake

    def sessions(self) -> Any:
        return self.served.app.state.sessionmaker

    def holder_with_card(self, pin: str = "1234") -> tuple[str, str, dict[str, str]]:
        """A new holder, their card, and a citizen session on it."""
        holder = self.person(national_id=national_id())
        number = self.card(holder, pin=pin, chip=secrets.token_hex(7).upper())["number"]
        return holder, number, self.citizen(number, pin)

    def topup(self, me: dict[str, str], amount: int, request_id: uuid.UUID | None = None) -> Any:
        return self.client.post(
            "/v1/me/topups",
            headers=me,
            json={"request_id": str(request_id or uuid.uuid4()), "amount_cents": amount},
        )

    def paid_topup(self, me: dict[str, str], amount: int) -> dict[str, Any]:
        """A top-up the holder paid on Stripe's page, credited once the webhook came."""
        r = self.topup(me, amount)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        assert self.stripe.pay(out["payment_intent_id"]).status_code == 200
        self.wait_topup(me, out["id"], "succeeded")
        return out

    def wait_topup(self, me: dict[str, str], topup_id: str, status: str) -> dict[str, Any]:
        def seen() -> dict[str, Any] | None:
            body: dict[str, Any] = self.client.get(f"/v1/me/topups/{topup_id}", headers=me).json()
            return body if body["status"] == status else None

        result: dict[str, Any] = wait_until(seen, 15, f"top-up {topup_id} {status}")
        return result

    def balance(self, me: dict[str, str]) -> int:
        return int(self.client.get("/v1/me/payments", headers=me).json()["balance_cents"])

    def reconcile(self, day: date | None = None) -> Report:
        with self.sessions()() as s:
            return reconcile(s, self.settings, day or today(self.settings))

    def events(self) -> list[StripeEvent]:
        with self.sessions()() as s:
            return list(s.scalars(select(StripeEvent).order_by(StripeEvent.received_at)))

    def topup_row(self, topup_id: str) -> TopUp:
        with self.sessions()() as s:
            row = s.get(TopUp, uuid.UUID(topup_id))
            assert row is not None
            return row

    def post_event(self, event: dict[str, Any], secret: str | None = None) -> httpx.Response:
        """Deliver an event signed the way Stripe signs (what localstripe cannot send)."""
        body = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(
            body, secret or self.settings.stripe_webhook_secret or ""
        )
        return self.client.post(
            "/v1/payments/stripe/webhook",
            content=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )


def today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.payments_timezone)).date()


def national_id() -> str:
    """A valid Spanish DNI, different each time."""
    number = secrets.randbelow(99_999_999)
    return f"{number:08d}" + "TRWAGMYFPDXBNJZSQVHLCKE"[number % 23]


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "evt_" + secrets.token_hex(12),
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


@contextmanager
def counter(url: str, tmp_path: Path, fake: LocalStripe, **extra: Any) -> Iterator[Counter]:
    """A served app on ``url`` wired to localstripe, with staff signed in."""
    fake.reset()
    served = Served(settings_for(url, tmp_path, fake.base, **extra))
    fake.send_webhooks_to(served.webhook_url, served.settings.stripe_webhook_secret or "")
    c = Counter(served, fake)
    try:
        for name, role in (
            ("clerk", Role.CLERK),
            ("supervisor", Role.SUPERVISOR),
            ("auditor", Role.AUDITOR),
            ("finance", Role.FINANCE),
        ):
            c.add_staff(name, role)
        yield c
    finally:
        c.client.close()
        served.stop()


def run_in(sessions: Any, fn: Callable[[Any], Any]) -> Any:
    with transaction(sessions) as s:
        return fn(s)
