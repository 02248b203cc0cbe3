"""The webhook on the plain ASGI fast path answers exactly as the FastAPI route it stands in
front of (the documented reference): a bad, missing or stale signature and a malformed body are
refused by name and recorded; an unknown event type is stored, acknowledged and ignored; a
success credits once and its replay is a duplicate."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import stripe
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from card_service.api.app import create_app
from card_service.api.fast import FastRoutes
from card_service.config import Settings
from card_service.db import transaction
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.ledger.schemas import AccountFlags, AccountSpec
from card_service.payments.models import StripeEvent, TopUp, WebhookRejection
from tests.payments.rig import event

PATH = "/v1/payments/stripe/webhook"


def _reference(app: FastAPI) -> FastAPI:
    """The same app with the fast path taken out: FastAPI's route answers."""
    app.user_middleware = [m for m in app.user_middleware if m.cls is not FastRoutes]
    return app


@contextmanager
def _apps(url: str, tmp_path: Path) -> Iterator[tuple[Settings, TestClient, TestClient]]:
    settings = Settings(
        database_url=url,
        ledger_maintenance_interval_s=0,
        payments_worker_interval_s=0,
        pii_keyring_path=tmp_path / "pii-keyring.json",
        stripe_webhook_secret="whsec_" + secrets.token_hex(16),
    )
    fast_app = create_app(settings)
    assert any(m.cls is FastRoutes for m in fast_app.user_middleware)
    with (
        TestClient(fast_app) as fast,
        TestClient(_reference(create_app(settings))) as reference,
    ):
        yield settings, fast, reference


def _pending_topup(settings: Settings, fast: TestClient, tag: str) -> dict[str, Any]:
    """A holder with a purse and a top-up waiting for its PaymentIntent; the intent, paid."""
    factory = fast.app.state.sessionmaker  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    with transaction(factory) as s:
        flags = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        purse = ledger.open_accounts(s, [AccountSpec(f"purse:F{tag}", "purse", flags, 0)])[0]
        s.execute(
            insert(Holder),
            [{"pseudonym": f"F{tag}", "kind": "person", "status": "active",
              "purse_account_id": purse, "created_at": now, "updated_at": now}],
        )  # fmt: skip
        holder = s.scalar(select(Holder.id).where(Holder.pseudonym == f"F{tag}"))
        s.execute(
            insert(TopUp),
            [{"id": uuid.uuid4(), "holder_id": holder, "kind": "online", "amount_cents": 1200,
              "status": "pending", "credited_cents": 0, "stripe_payment_intent_id": f"pi_F{tag}",
              "created_at": now, "updated_at": now}],
        )  # fmt: skip
    return {"id": f"pi_F{tag}", "object": "payment_intent", "amount": 1200,
            "amount_received": 1200, "currency": "eur", "status": "succeeded",
            "latest_charge": f"ch_F{tag}", "metadata": {}, "purse": purse}  # fmt: skip


def _deliveries(settings: Settings, tag: str, intent: dict[str, Any]) -> list[dict[str, Any]]:
    """The same kinds of delivery for each path (bodies differ only in their ids)."""
    secret = settings.stripe_webhook_secret or ""
    success = json.dumps(event("payment_intent.succeeded", intent))
    unknown = json.dumps(event("invoice.marked_uncollectible", {"id": f"in_{tag}"}))

    def signed(body: str, key: str = secret, **kw: Any) -> dict[str, str]:
        header = stripe.WebhookSignature.generate_signature_header(body, key, **kw)
        return {"Stripe-Signature": header, "Content-Type": "application/json"}

    return [
        {"content": success},
        {"content": success, "headers": signed(success, "whsec_not_ours")},
        {"content": success.replace("1200", "9900"), "headers": signed(success)},
        {"content": success, "headers": signed(success, timestamp=1_700_000_000)},
        {"content": "{not json", "headers": signed("{not json")},
        {"content": "[1]", "headers": signed("[1]")},
        {"content": unknown, "headers": signed(unknown)},
        {"content": unknown, "headers": signed(unknown)},  # replayed
        {"content": success, "headers": signed(success)},
        {"content": success, "headers": signed(success)},  # replayed
    ]


def _answers(client: TestClient, deliveries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    out = []
    for d in deliveries:
        r = client.post(PATH, **d)
        body = r.json()
        body.pop("received", None)  # the event's id: each path has its own events
        out.append((r.status_code, r.headers["content-type"], body))
    return out


def test_fast_path_and_fastapi_route_agree(db_url: str, tmp_path: Path) -> None:
    with _apps(db_url, tmp_path) as (settings, fast, reference):
        seen = []
        for tag, client in (("fast", fast), ("ref", reference)):
            intent = _pending_topup(settings, fast, tag)
            purse = intent.pop("purse")
            seen.append(_answers(client, _deliveries(settings, tag, intent)))
            with transaction(fast.app.state.sessionmaker) as s:  # type: ignore[attr-defined]
                assert ledger.balance(s, purse).balance_cents == 1200  # credited once
                unknown = s.scalars(
                    select(StripeEvent).where(StripeEvent.object_id == f"in_{tag}")
                ).one()
                assert (unknown.outcome, unknown.detail, unknown.deliveries) == (
                    "ignored",
                    "event type not handled",
                    2,
                )
        fast_answers, reference_answers = seen
        assert fast_answers == reference_answers
        codes = [a[2].get("code") or (a[2]["outcome"], a[2]["duplicate"]) for a in fast_answers]
        assert codes == [
            "webhook_unsigned",
            "webhook_signature_invalid",
            "webhook_signature_invalid",
            "webhook_signature_invalid",
            "webhook_malformed",
            "webhook_malformed",
            ("ignored", False),
            ("ignored", True),
            ("applied", False),
            ("applied", True),
        ]
        assert fast_answers[0][:2] == (400, "application/problem+json")
        with fast.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
            assert s.scalar(select(func.count()).select_from(WebhookRejection)) == 2 * 6
