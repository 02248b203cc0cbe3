"""Online top-up: the holder asks, pays on Stripe's page, and the purse has it at once."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.payments.rig import LocalStripe, counter


def test_paid_topup_is_spendable_at_once_and_reconciles(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        _holder, _number, me = c.holder_with_card()
        r = c.topup(me, 2000)
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["status"] == "pending" and out["client_secret"].startswith(
            out["payment_intent_id"]
        )
        assert out["publishable_key"] == "pk_test_cardservice"
        intent = localstripe.get(f"/v1/payment_intents/{out['payment_intent_id']}")
        assert intent["amount"] == 2000 and intent["metadata"]["topup_id"] == out["id"]
        assert c.balance(me) == 0  # nothing before Stripe says it is paid

        assert localstripe.pay(out["payment_intent_id"]).status_code == 200
        c.wait_topup(me, out["id"], "succeeded")
        assert c.balance(me) == 2000
        moves = c.client.get("/v1/me/movements", headers=me).json()
        assert [(m["amount_cents"], m["code"]) for m in moves] == [(2000, "topup_online")]
        report = c.reconcile()
        assert report.ok and [line.stripe_cents for line in report.matched] == [2000]


def test_declined_card_is_recorded_and_shown(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        _holder, _number, me = c.holder_with_card()
        out = c.topup(me, 1500).json()
        declined = localstripe.pay(out["payment_intent_id"], "pm_card_chargeCustomerFail")
        assert declined.status_code == 402
        failed = c.wait_topup(me, out["id"], "failed")
        assert failed["failure_code"] == "card_declined"
        assert "declined" in failed["failure_message"]
        overview = c.client.get("/v1/me/payments", headers=me).json()
        assert overview["balance_cents"] == 0
        assert any("declined" in n for n in overview["notices"])
        assert c.reconcile().ok


def test_bad_requests_move_no_money(db_url: str, tmp_path: Path, localstripe: LocalStripe) -> None:
    with counter(db_url, tmp_path, localstripe, topup_min_cents=500, purse_max_cents=5000) as c:
        _holder, number, me = c.holder_with_card()
        low = c.topup(me, 499)
        assert low.status_code == 422 and low.json()["code"] == "topup_below_minimum"
        negative = c.topup(me, -100)
        assert negative.json()["code"] == "topup_below_minimum"
        high = c.topup(me, 5001)
        assert high.status_code == 422 and high.json()["code"] == "purse_limit_exceeded"
        # A pending (unpaid) top-up counts against the maximum, so two tabs cannot pass it.
        first = c.topup(me, 3000)
        assert first.status_code == 201
        second = c.topup(me, 3000)
        assert second.json()["code"] == "purse_limit_exceeded"
        assert "2000 cents can still be added" in second.json()["detail"]
        # The same request id again is the same top-up, the same PaymentIntent.
        again = c.topup(me, 3000, uuid.UUID(first.json()["id"]))
        assert again.status_code == 201
        assert again.json()["payment_intent_id"] == first.json()["payment_intent_id"]
        reused = c.topup(me, 1000, uuid.UUID(first.json()["id"]))
        assert reused.json()["code"] == "request_id_reused"

        blocked = c.as_("clerk", "POST", f"/v1/cards/{number}/block", json={"reason": "lost"})
        assert blocked.status_code == 200
        refused = c.topup(me, 1000)  # a session opened before the block
        assert refused.status_code == 409 and refused.json()["code"] == "card_blocked"
        assert len(localstripe.list("/v1/payment_intents")) == 1  # only the first one
        assert c.balance(me) == 0
        assert c.reconcile().ok
