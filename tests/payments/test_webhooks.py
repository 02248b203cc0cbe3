"""Webhooks: replayed, delivered twice at once, out of order, forged, unsigned, malformed,
unknown. After each: the purse credited exactly once and reconciliation clean."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import stripe
from sqlalchemy import select

from card_service.payments import webhooks
from card_service.payments.models import StripeEvent, WebhookRejection
from tests.payments.rig import Counter, LocalStripe, counter, event, wait_until


def _signed(c: Counter, body: str) -> dict[str, str]:
    secret = c.settings.stripe_webhook_secret or ""
    header = stripe.WebhookSignature.generate_signature_header(body, secret)
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def _success_event(c: Counter, localstripe: LocalStripe, out: dict[str, object]) -> StripeEvent:
    """The payment_intent.succeeded localstripe delivered for this top-up, once processed."""

    def found() -> StripeEvent | None:
        for e in c.events():
            if (
                e.type == "payment_intent.succeeded"
                and e.object_id == out["payment_intent_id"]
                and e.processed_at is not None
            ):
                return e
        return None

    result: StripeEvent = wait_until(found, 15, "the success event")
    return result


def test_replayed_webhook_credits_once(db_url: str, tmp_path: Path, localstripe: LocalStripe):
    with counter(db_url, tmp_path, localstripe) as c:
        _h, _n, me = c.holder_with_card()
        out = c.paid_topup(me, 2500)
        stored = _success_event(c, localstripe, out)
        # Stripe redelivers the same event (same body), signed again.
        again = c.client.post(
            "/v1/payments/stripe/webhook",
            content=stored.payload,
            headers=_signed(c, stored.payload),
        )
        assert again.status_code == 200, again.text
        assert again.json()["duplicate"] is True and again.json()["outcome"] == "applied"
        assert c.balance(me) == 2500
        assert [e.deliveries for e in c.events() if e.id == stored.id] == [2]
        assert c.reconcile().ok


def test_same_event_twice_at_once_credits_once(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        _h, _n, me = c.holder_with_card()
        out = c.topup(me, 1200).json()
        # localstripe will deliver the success itself a second after the payment; before it
        # does, the same event reaches us eight times at once (Stripe retrying, a proxy...).
        assert localstripe.pay(out["payment_intent_id"]).status_code == 200
        events = localstripe.list("/v1/events")
        success = next(e for e in events if e["type"] == "payment_intent.succeeded")
        body = json.dumps(success)

        def deliver(_: int) -> httpx.Response:
            with httpx.Client(base_url=c.served.base, timeout=30) as h:
                return h.post("/v1/payments/stripe/webhook", content=body, headers=_signed(c, body))

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(deliver, range(8)))
        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
        assert sorted(a.json()["duplicate"] for a in answers).count(False) <= 1
        c.wait_topup(me, out["id"], "succeeded")
        stored = _success_event(c, localstripe, out)
        wait_until(lambda: next(e for e in c.events() if e.id == stored.id).deliveries == 9)
        assert c.balance(me) == 1200
        assert c.reconcile().ok


def test_refund_made_at_stripe_arriving_before_the_success(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    """Out of order: finance refunds part of a payment in Stripe's dashboard at once, and its
    charge.refunded event reaches us before payment_intent.succeeded. localstripe sends no
    charge.refunded, so the test delivers it, built from localstripe's own charge and signed
    with the endpoint's secret; the success is then delivered by localstripe itself."""
    with counter(db_url, tmp_path, localstripe) as c:
        _h, _n, me = c.holder_with_card()
        out = c.topup(me, 3000).json()
        assert localstripe.pay(out["payment_intent_id"]).status_code == 200
        intent = localstripe.get(f"/v1/payment_intents/{out['payment_intent_id']}")
        charge_id = intent["latest_charge"]["id"]
        refund = localstripe.http.post(
            "/v1/refunds", data={"charge": charge_id, "amount": 1000}
        ).json()
        charge = localstripe.get(f"/v1/charges/{charge_id}")
        assert charge["refunds"]["data"][0]["id"] == refund["id"]
        early = c.post_event(event("charge.refunded", charge))
        assert early.status_code == 200 and early.json()["outcome"] == "applied", early.text
        assert c.balance(me) == 2000  # credited because refunded, then refunded
        c.wait_topup(me, out["id"], "succeeded")
        success = _success_event(c, localstripe, out)
        assert success.outcome == "applied" and success.detail == "credited already"
        assert c.balance(me) == 2000
        report = c.reconcile()
        assert report.ok, report
        assert sorted((m.kind, m.stripe_cents) for m in report.matched) == [
            ("charge", 3000),
            ("refund", -1000),
        ]


def test_forged_unsigned_and_malformed_webhooks_are_refused(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        _h, _n, me = c.holder_with_card()
        out = c.topup(me, 2000).json()
        intent = localstripe.get(f"/v1/payment_intents/{out['payment_intent_id']}")
        intent["status"] = "succeeded"
        forged = c.post_event(event("payment_intent.succeeded", intent), "whsec_not_ours")
        assert forged.status_code == 400
        assert forged.json()["code"] == "webhook_signature_invalid"
        body = json.dumps(event("payment_intent.succeeded", intent))
        unsigned = c.client.post("/v1/payments/stripe/webhook", content=body)
        assert unsigned.status_code == 400 and unsigned.json()["code"] == "webhook_unsigned"
        tampered_headers = _signed(c, body)
        tampered = c.client.post(
            "/v1/payments/stripe/webhook",
            content=body.replace("2000", "9000"),
            headers=tampered_headers,
        )
        assert tampered.json()["code"] == "webhook_signature_invalid"
        stale = stripe.WebhookSignature.generate_signature_header(
            body, c.settings.stripe_webhook_secret or "", timestamp=1_700_000_000
        )
        old = c.client.post(
            "/v1/payments/stripe/webhook", content=body, headers={"Stripe-Signature": stale}
        )
        assert old.json()["code"] == "webhook_signature_invalid"
        garbage = "{not json"
        malformed = c.client.post(
            "/v1/payments/stripe/webhook", content=garbage, headers=_signed(c, garbage)
        )
        assert malformed.status_code == 400 and malformed.json()["code"] == "webhook_malformed"
        no_event = json.dumps({"hello": "world"})
        not_event = c.client.post(
            "/v1/payments/stripe/webhook", content=no_event, headers=_signed(c, no_event)
        )
        assert not_event.json()["code"] == "webhook_malformed"

        with c.sessions()() as s:
            rejected = [r.code for r in s.scalars(select(WebhookRejection))]
        assert rejected == [
            "webhook_signature_invalid",
            "webhook_unsigned",
            "webhook_signature_invalid",
            "webhook_signature_invalid",
            "webhook_malformed",
            "webhook_malformed",
        ]
        assert c.events() == []  # nothing stored, nothing moved
        assert c.balance(me) == 0
        assert c.topup_row(out["id"]).status == "pending"
        assert c.reconcile().ok


def test_unknown_event_type_is_stored_acknowledged_and_ignored(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        _h, _n, me = c.holder_with_card()
        odd = event("invoice.marked_uncollectible", {"id": "in_123", "object": "invoice"})
        r = c.post_event(odd)
        assert r.status_code == 200 and r.json()["outcome"] == "ignored"
        stored = [e for e in c.events() if e.id == odd["id"]]
        assert stored[0].detail == "event type not handled" and stored[0].processed_at
        # A success for a PaymentIntent that is not a top-up of ours: stored, ignored.
        stranger = c.post_event(
            event(
                "payment_intent.succeeded",
                {"id": "pi_other", "object": "payment_intent", "amount": 5000,
                 "currency": "eur", "metadata": {}},
            )
        )  # fmt: skip
        assert stranger.json()["outcome"] == "ignored"
        assert c.balance(me) == 0
        with c.sessions()() as s:
            assert s.scalar(select(StripeEvent.detail).where(StripeEvent.object_id == "pi_other"))
        assert c.reconcile().ok


def test_an_event_stored_but_never_processed_is_processed_by_the_worker(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    """A crash right after storing: the worker's round processes what was left, once."""
    with counter(db_url, tmp_path, localstripe) as c:
        _h, _n, me = c.holder_with_card()
        out = c.topup(me, 900).json()
        intent = localstripe.get(f"/v1/payment_intents/{out['payment_intent_id']}")
        intent["status"] = "succeeded"
        left = event("payment_intent.succeeded", intent)
        stored = webhooks.store(c.sessions(), left, json.dumps(left))
        assert not stored.processed and c.balance(me) == 0
        assert webhooks.process_stored(c.sessions(), c.settings, older_than_s=60) == 0  # too fresh
        assert webhooks.process_stored(c.sessions(), c.settings, older_than_s=0) == 1
        assert webhooks.process_stored(c.sessions(), c.settings, older_than_s=0) == 0
        assert c.balance(me) == 900
        assert [e.outcome for e in c.events() if e.id == left["id"]] == ["applied"]
