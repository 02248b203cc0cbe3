"""Bills paid by bank card against localstripe: settled only when Stripe says the payment
succeeded, once, with the charge in the ledger so reconciliation matches it; another holder's
payment, or an unpaid one, settles nothing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.payments.conftest import localstripe  # noqa: F401  (the fixture)
from tests.payments.rig import Counter, LocalStripe, counter, wait_until


def issue_bill(c: Counter, amount: int) -> str:
    body = {"issuer": "Empresa Municipal de Aguas", "concept": "Agua", "amount_cents": amount,
            "due_date": "2026-12-31"}  # fmt: skip
    r = c.as_("clerk", "POST", "/v1/bills", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["reference"])


def start(c: Counter, me: dict[str, str], ref: str) -> Any:
    return c.client.post(
        f"/v1/me/bills/{ref}/card-payments", headers=me, json={"client_id": uuid.uuid4().hex}
    )


def check(c: Counter, me: dict[str, str], ref: str, intent: str) -> Any:
    return c.client.post(f"/v1/me/bills/{ref}/card-payments/{intent}/check", headers=me)


def test_a_bill_is_settled_once_when_stripe_says_paid(
    db_url: str,
    tmp_path: Path,
    localstripe: LocalStripe,  # noqa: F811
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        _holder, _number, me = c.holder_with_card()
        _other, _n2, someone_else = c.holder_with_card()
        ref = issue_bill(c, 3175)
        r = start(c, me, ref)
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["amount_cents"] == 3175 and out["client_secret"].startswith(
            out["payment_intent_id"]
        )
        intent = localstripe.get(f"/v1/payment_intents/{out['payment_intent_id']}")
        assert intent["metadata"]["bill"] == ref and intent["amount"] == 3175

        # Not paid yet: asking moves nothing, whatever the page says.
        pending = check(c, me, ref, out["payment_intent_id"]).json()
        assert pending["status"] == "pending" and pending["receipt"] is None
        assert c.as_("clerk", "GET", f"/v1/bills/{ref}").json()["status"] == "open"

        assert localstripe.pay(out["payment_intent_id"]).status_code == 200
        refused = check(c, someone_else, ref, out["payment_intent_id"])
        assert refused.status_code == 409 and refused.json()["code"] == "card_payment_mismatch"

        paid = check(c, me, ref, out["payment_intent_id"]).json()
        assert paid["status"] == "paid" and paid["receipt"].startswith("R-")
        again = check(c, me, ref, out["payment_intent_id"]).json()
        assert again["receipt"] == paid["receipt"]  # once
        assert c.as_("clerk", "GET", f"/v1/bills/{ref}").json()["status"] == "paid"
        assert c.balance(me) == 0  # the purse is not touched
        pdf = c.client.get(f"/v1/me/receipts/{paid['receipt']}.pdf", headers=me)
        assert pdf.headers["content-type"] == "application/pdf"

        # A paid bill offers no new card payment; Stripe's money matches the ledger.
        assert start(c, me, ref).json()["code"] == "bill_already_paid"
        report = c.reconcile()
        assert report.ok, report.as_dict()
        assert [line.stripe_cents for line in report.matched] == [3175]


def test_stripes_webhook_settles_a_bill_whose_kiosk_never_came_back(
    db_url: str,
    tmp_path: Path,
    localstripe: LocalStripe,  # noqa: F811
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        _holder, _number, me = c.holder_with_card()
        ref = issue_bill(c, 1250)
        out = start(c, me, ref).json()
        assert localstripe.pay(out["payment_intent_id"]).status_code == 200
        # Nobody asks card_service: the card was pulled and the page is gone. Stripe's event
        # alone settles the bill, once, and the money matches the ledger.
        wait_until(
            lambda: c.as_("clerk", "GET", f"/v1/bills/{ref}").json()["status"] == "paid",
            what="the webhook to settle the bill",
        )
        paid = check(c, me, ref, out["payment_intent_id"]).json()
        assert paid["status"] == "paid" and paid["receipt"].startswith("R-")
        assert c.balance(me) == 0
        report = c.reconcile()
        assert report.ok, report.as_dict()
        assert [line.stripe_cents for line in report.matched] == [1250]
