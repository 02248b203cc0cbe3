"""Stripe unreachable while creating a payment; the service killed after Stripe succeeded but
before the ledger write; a webhook that never arrived. Each time: credited once, clean."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import text
from sqlalchemy.engine import make_url

from card_service.payments import webhooks
from tests.payments.proxy import FlakyProxy
from tests.payments.rig import Counter, LocalStripe, counter, free_port, today, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def proxy(localstripe: LocalStripe) -> Any:
    p = FlakyProxy(localstripe.port)
    yield p
    p.close()


def _our_intents(localstripe: LocalStripe, topup_id: str) -> list[dict[str, Any]]:
    return [
        i
        for i in localstripe.list("/v1/payment_intents")
        if i["metadata"].get("topup_id") == topup_id
    ]


def test_dropped_connections_are_retried_with_the_same_key(
    db_url: str, tmp_path: Path, localstripe: LocalStripe, proxy: FlakyProxy
) -> None:
    with counter(db_url, tmp_path, localstripe, stripe_api_base=proxy.base) as c:
        _h, _n, me = c.holder_with_card()
        proxy.modes.extend(["drop", "drop"])  # two attempts lost; the library's third gets in
        r = c.topup(me, 2000)
        assert r.status_code == 201, r.text
        out = r.json()
        keys = proxy.keys_for("/v1/payment_intents")
        assert keys == [("drop", f"topup-{out['id']}")] * 2 + [("pass", f"topup-{out['id']}")]
        assert [i["id"] for i in _our_intents(localstripe, out["id"])] == [out["payment_intent_id"]]
        assert localstripe.pay(out["payment_intent_id"]).status_code == 200
        c.wait_topup(me, out["id"], "succeeded")
        assert c.balance(me) == 2000 and c.reconcile().ok


def test_stripe_down_then_back_never_charges_twice(
    db_url: str, tmp_path: Path, localstripe: LocalStripe, proxy: FlakyProxy
) -> None:
    with counter(db_url, tmp_path, localstripe, stripe_api_base=proxy.base) as c:
        _h, _n, me = c.holder_with_card()
        # Down for longer than the library retries: the holder is told, nothing is charged.
        proxy.modes.extend(["drop"] * 3)
        down = c.topup(me, 1500)
        assert down.status_code == 503 and down.json()["code"] == "stripe_unavailable"
        request_id = proxy.keys_for("/v1/payment_intents")[0][1]
        assert request_id is not None
        topup_id = request_id.removeprefix("topup-")
        assert c.topup_row(topup_id).status == "creating"
        assert localstripe.list("/v1/payment_intents") == []

        # Back, but the first answer is lost after Stripe created the PaymentIntent: the library
        # retries with the same key. (Stripe answers a retried key with the first PaymentIntent;
        # localstripe ignores idempotency keys and makes a second one. Only the one we hand out
        # is ever paid, so the holder is still charged once.)
        proxy.modes.append("lose_answer")
        back = c.topup(me, 1500, uuid.UUID(topup_id))  # the holder retries the same request
        assert back.status_code == 201, back.text
        out = back.json()
        assert {k for _m, k in proxy.keys_for("/v1/payment_intents")} == {request_id}
        made = _our_intents(localstripe, topup_id)
        assert out["payment_intent_id"] in [i["id"] for i in made]
        assert localstripe.pay(out["payment_intent_id"]).status_code == 200
        c.wait_topup(me, topup_id, "succeeded")
        charges = [ch for ch in localstripe.list("/v1/charges") if ch["amount"] == 1500]
        assert len(charges) == 1
        assert c.balance(me) == 1500
        assert c.reconcile().ok


def _serve(c: Counter, port: int) -> subprocess.Popen[bytes]:
    s = c.settings
    env = {
        **os.environ,
        "CARD_SERVICE_DATABASE_URL": s.database_url,
        "CARD_SERVICE_LEDGER_MAINTENANCE_INTERVAL_S": "0",
        "CARD_SERVICE_PAYMENTS_WORKER_INTERVAL_S": "0",
        "CARD_SERVICE_PII_KEYRING_PATH": str(s.pii_keyring_path),
        "CARD_SERVICE_STRIPE_API_KEY": s.stripe_api_key or "",
        "CARD_SERVICE_STRIPE_WEBHOOK_SECRET": s.stripe_webhook_secret or "",
        "CARD_SERVICE_STRIPE_API_BASE": s.stripe_api_base or "",
    }
    log = (Path(s.pii_keyring_path).parent / f"serve-{port}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "card_service.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )

    def up() -> bool:
        assert proc.poll() is None, Path(log.name).read_text()[-2000:]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 120, "the service process")  # a cold start on a busy machine is slow
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    return proc


def _redeliver(c: Counter, localstripe: LocalStripe, port: int, intent_id: str) -> Any:
    """Stripe retries a delivery that got no 2xx, signed afresh (localstripe never retries, so
    the test sends localstripe's own event the way Stripe's retry would)."""
    found = [
        e
        for e in localstripe.list("/v1/events")
        if e["type"] == "payment_intent.succeeded" and e["data"]["object"]["id"] == intent_id
    ]
    body = json.dumps(found[0])
    header = stripe.WebhookSignature.generate_signature_header(
        body, c.settings.stripe_webhook_secret or ""
    )
    return httpx.post(
        f"http://127.0.0.1:{port}/v1/payments/stripe/webhook",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        timeout=30,
    )


@pytest.mark.slow
def test_killed_after_stripe_succeeded_before_the_ledger_write(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    """The service process is SIGKILLed while it holds Stripe's success but has not written
    the ledger: on PostgreSQL after storing the event (the purse's row is locked by the test,
    so processing waits there), on SQLite before storing it (the test holds the write lock).
    A restarted service gets Stripe's redelivery and credits the purse, once."""
    with counter(db_url, tmp_path, localstripe) as c:
        holder, _n, me = c.holder_with_card()
        out = c.topup(me, 2200).json()
        port = free_port()
        first = _serve(c, port)
        localstripe.send_webhooks_to(
            f"http://127.0.0.1:{port}/v1/payments/stripe/webhook",
            c.settings.stripe_webhook_secret or "",
        )
        postgres = db_url.startswith("postgresql")
        url = make_url(db_url)
        if postgres:
            import psycopg

            blocker: Any = psycopg.connect(
                url.set(drivername="postgresql").render_as_string(hide_password=False)
            )
            blocker.execute(
                "SELECT id FROM ledger_accounts WHERE code = %s FOR UPDATE", (f"purse:{holder}",)
            )
        else:
            blocker = sqlite3.connect(url.database or "", isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
        try:
            assert localstripe.pay(out["payment_intent_id"]).status_code == 200
            if postgres:
                with c.sessions()() as s:
                    wait_until(
                        lambda: s.scalar(
                            text(
                                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                                "'Lock' AND datname = current_database()"
                            )
                        ),
                        15,
                        "processing to wait for the purse",
                    )
                stored = [e for e in c.events() if e.object_id == out["payment_intent_id"]]
                assert stored and stored[0].processed_at is None
            else:
                time.sleep(2.5)  # localstripe delivers after 1 s; the service waits for the lock
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            blocker.rollback() if postgres else blocker.execute("ROLLBACK")
            blocker.close()
        assert c.balance(me) == 0 and c.topup_row(out["id"]).status == "pending"
        assert not c.reconcile().ok  # Stripe has the charge, the ledger not yet

        second = _serve(c, port)
        try:
            healed = _redeliver(c, localstripe, port, out["payment_intent_id"])
            assert healed.status_code == 200, healed.text
            assert healed.json()["outcome"] == "applied"
            assert _redeliver(c, localstripe, port, out["payment_intent_id"]).json()["duplicate"]
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
        assert c.balance(me) == 2200
        assert c.reconcile().ok


@pytest.mark.slow
def test_webhook_that_never_arrived_is_fetched(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    """The endpoint was down when Stripe delivered: reconciliation says so (exit 1), and
    `payments fetch-events` brings the event in from Stripe's events API."""
    with counter(db_url, tmp_path, localstripe) as c:
        _h, _n, me = c.holder_with_card()
        out = c.topup(me, 1800).json()
        localstripe.send_webhooks_to(
            f"http://127.0.0.1:{free_port()}/down", c.settings.stripe_webhook_secret or ""
        )
        assert localstripe.pay(out["payment_intent_id"]).status_code == 200
        time.sleep(1.5)
        assert c.events() == []
        env = {
            **os.environ,
            "CARD_SERVICE_DATABASE_URL": c.settings.database_url,
            "CARD_SERVICE_STRIPE_API_KEY": c.settings.stripe_api_key or "",
            "CARD_SERVICE_STRIPE_API_BASE": c.settings.stripe_api_base or "",
        }
        command = [sys.executable, "-m", "card_service.cli", "payments"]
        day = today(c.settings).isoformat()
        dirty = subprocess.run(
            [*command, "reconcile", "--date", day], env=env, cwd=ROOT, capture_output=True
        )
        assert dirty.returncode == 1, dirty.stdout
        assert b"MISSING IN THE LEDGER: 1" in dirty.stdout
        fetched = subprocess.run(
            [*command, "fetch-events", "--hours", "1"], env=env, cwd=ROOT, capture_output=True
        )
        assert fetched.returncode == 0 and b"processed" in fetched.stdout, fetched.stderr
        assert c.balance(me) == 1800
        clean = subprocess.run(
            [*command, "reconcile", "--date", day, "--json"],
            env=env,
            cwd=ROOT,
            capture_output=True,
        )
        assert clean.returncode == 0, clean.stdout
        assert json.loads(clean.stdout)["matched"][0]["stripe_cents"] == 1800
        # A second fetch finds nothing new.
        assert webhooks.fetch_missed(c.sessions(), c.settings, int(time.time()) - 3600) == 0
        assert [e.type for e in c.events() if e.type.startswith("payment_intent")] == [
            "payment_intent.succeeded"
        ]
