"""Refunds of unused balance to the original payments, newest first, in part or in full."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from card_service.cards.service import purse_code
from card_service.db import transaction
from card_service.ledger import service as ledger
from card_service.ledger.schemas import TransferRequest
from card_service.payments import accounts
from card_service.payments import refunds as refund_service
from tests.payments.proxy import FlakyProxy
from tests.payments.rig import Counter, LocalStripe, counter


def _spend(c: Counter, holder: str, amount: int) -> None:
    with transaction(c.sessions()) as s:
        purse = ledger.find_account(s, purse_code(holder)).id
        bus = ledger.open_account(s, code=f"revenue:{uuid.uuid4().hex[:8]}", kind="revenue").id
        assert ledger.create_transfers(
            s, [TransferRequest(uuid.uuid4(), purse, bus, amount, "fare")]
        )[0].ok


def _refund(
    c: Counter, me: dict[str, str], amount: int | None, rid: uuid.UUID | None = None
) -> Any:
    body: dict[str, Any] = {"request_id": str(rid or uuid.uuid4())}
    if amount is not None:
        body["amount_cents"] = amount
    return c.client.post("/v1/me/refunds", headers=me, json=body)


def test_refunds_go_back_newest_first_in_part_and_in_full(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        holder, _n, me = c.holder_with_card()
        older = c.paid_topup(me, 1000)
        newer = c.paid_topup(me, 2000)
        _spend(c, holder, 500)
        assert c.client.get("/v1/me/payments", headers=me).json()["refundable_cents"] == 2500

        part = _refund(c, me, 1500)
        assert part.status_code == 201, part.text
        [one] = part.json()
        assert (one["topup_id"], one["amount_cents"], one["status"]) == (
            newer["id"],
            1500,
            "succeeded",
        )
        made = localstripe.get(f"/v1/refunds/{one['stripe_refund_id']}")
        assert made["payment_intent"] == newer["payment_intent_id"] and made["amount"] == 1500
        assert c.balance(me) == 1000

        too_much = _refund(c, me, 1001)
        assert (
            too_much.status_code == 422 and too_much.json()["code"] == "refund_exceeds_refundable"
        )
        assert "1000 cents can be refunded" in too_much.json()["detail"]
        assert _refund(c, me, 0).json()["code"] == "refund_exceeds_refundable"
        assert c.balance(me) == 1000 and len(localstripe.list("/v1/refunds")) == 1

        rid = uuid.uuid4()
        everything = c.as_(
            "clerk",
            "POST",
            f"/v1/holders/{holder}/refunds",
            json={"request_id": str(rid), "reason": "moving to Oviedo"},
        )
        assert everything.status_code == 201, everything.text
        parts = [(r["topup_id"], r["amount_cents"], r["status"]) for r in everything.json()]
        assert sorted(parts) == sorted(
            [(newer["id"], 500, "succeeded"), (older["id"], 500, "succeeded")]
        )
        assert c.balance(me) == 0
        # The clerk's retry of the same request is the same refunds, nothing new at Stripe.
        again = c.as_(
            "clerk", "POST", f"/v1/holders/{holder}/refunds",
            json={"request_id": str(rid), "reason": "moving to Oviedo"},
        )  # fmt: skip
        assert [r["id"] for r in again.json()] == [r["id"] for r in everything.json()]
        assert len(localstripe.list("/v1/refunds")) == 3
        events = c.audit(action="payments.refund")
        assert {e["actor"] for e in events} == {f"holder:{holder}", "clerk"}
        assert any("moving to Oviedo" in (e["reason"] or "") for e in events)
        assert c.as_("auditor", "POST", f"/v1/holders/{holder}/refunds", json={}).status_code == 403

        report = c.reconcile()
        assert report.ok, report
        assert sorted(m.stripe_cents or 0 for m in report.matched) == [
            -1500,
            -500,
            -500,
            1000,
            2000,
        ]


def test_refund_waits_while_stripe_is_down_and_is_paid_later(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    proxy = FlakyProxy(localstripe.port)
    try:
        with counter(db_url, tmp_path, localstripe, stripe_api_base=proxy.base) as c:
            _holder, _n, me = c.holder_with_card()
            c.paid_topup(me, 1200)
            proxy.modes.extend(["drop"] * 3)
            r = _refund(c, me, 700)
            assert r.status_code == 201 and r.json()[0]["status"] == "requested"
            assert c.balance(me) == 500  # out of the purse at once, held in `refunds`
            with c.sessions()() as s:
                held = ledger.balance(s, ledger.find_account(s, accounts.REFUNDS).id)
                assert held.balance_cents == 700
            assert localstripe.list("/v1/refunds") == []
            assert refund_service.retry_requested(c.sessions(), c.settings, older_than_s=0) == 1
            keys = {k for _m, k in proxy.keys_for("/v1/refunds")}
            assert keys == {f"refund-{r.json()[0]['id']}"}  # the same key every time
            overview = c.client.get("/v1/me/payments", headers=me).json()
            assert [x["status"] for x in overview["refunds"]] == ["succeeded"]
            assert len(localstripe.list("/v1/refunds")) == 1
            with c.sessions()() as s:
                held = ledger.balance(s, ledger.find_account(s, accounts.REFUNDS).id)
                assert held.balance_cents == 0
            assert c.balance(me) == 500 and c.reconcile().ok
    finally:
        proxy.close()
