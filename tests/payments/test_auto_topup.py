"""Auto top-up: a saved card pays when a debit takes the purse below the threshold; repeated
failures switch it off and the holder sees why. Settlement's hook is called directly here."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from card_service.cards.service import purse_code
from card_service.db import transaction
from card_service.ledger import service as ledger
from card_service.ledger.schemas import TransferRequest
from card_service.payments import auto_topup
from card_service.payments.models import StripeEvent, TopUp
from tests.payments.rig import Counter, LocalStripe, counter, wait_until


def _save(c: Counter, me: dict[str, str], method: str, threshold: int, amount: int) -> Any:
    setup = c.client.post("/v1/me/auto-topup/setup", headers=me)
    assert setup.status_code == 200, setup.text
    assert setup.json()["publishable_key"] == "pk_test_cardservice"
    setup_id = c.stripe.confirm_setup(setup.json()["client_secret"], method)
    return c.client.put(
        "/v1/me/auto-topup",
        headers=me,
        json={"setup_intent_id": setup_id, "threshold_cents": threshold, "amount_cents": amount},
    )


def _fare(c: Counter, holder: str, amount: int, *, hook: bool = True) -> TopUp | None:
    """What settlement does: debit the purse, then call the hook in the same transaction."""
    with transaction(c.sessions()) as s:
        purse = ledger.find_account(s, purse_code(holder)).id
        try:
            bus = ledger.find_account(s, "revenue:bus").id
        except Exception:
            bus = ledger.open_account(s, code="revenue:bus", kind="service_revenue").id
        debit = TransferRequest(uuid.uuid4(), purse, bus, amount, "fare")
        assert ledger.create_transfers(s, [debit])[0].ok
        after = ledger.balance(s, purse).balance_cents
        return auto_topup.after_purse_debit(s, purse, after, str(debit.id)) if hook else None


def test_below_threshold_pays_once_with_the_saved_card(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        holder, _n, me = c.holder_with_card()
        c.paid_topup(me, 1000)
        saved = _save(c, me, "pm_card_visa", 500, 2000)
        assert saved.status_code == 200, saved.text
        assert saved.json()["enabled"] and saved.json()["payment_method"] == "visa 4242"

        assert _fare(c, holder, 300) is None  # 700 left: above the threshold
        queued = _fare(c, holder, 400)  # 300 left
        assert queued is not None and queued.status == "queued" and queued.kind == "auto"
        # The same debit reported again queues nothing new; another debit while one is on its
        # way queues nothing either.
        with transaction(c.sessions()) as s:
            purse = ledger.find_account(s, purse_code(holder)).id
            same = auto_topup.after_purse_debit(s, purse, 300, queued.trigger or "")
            assert same is not None and same.id == queued.id
        assert _fare(c, holder, 100) is None

        assert auto_topup.run_queued(c.sessions(), c.settings) == 1
        assert c.balance(me) == 200 + 2000  # spendable at once, before any webhook
        assert auto_topup.run_queued(c.sessions(), c.settings) == 0
        with c.sessions()() as s:
            row = s.get(TopUp, queued.id)
            assert row is not None and row.status == "succeeded"
            intent = row.stripe_payment_intent_id

        def success_processed() -> bool:
            with c.sessions()() as s:
                return bool(
                    s.scalar(
                        select(StripeEvent.processed_at).where(
                            StripeEvent.object_id == intent,
                            StripeEvent.type == "payment_intent.succeeded",
                        )
                    )
                )

        wait_until(success_processed, 15, "localstripe's success event")
        assert c.balance(me) == 2200
        stripe_side = localstripe.get(f"/v1/payment_intents/{intent}")
        assert stripe_side["metadata"]["kind"] == "auto" and stripe_side["amount"] == 2000
        report = c.reconcile()
        assert report.ok and sorted(m.stripe_cents for m in report.matched) == [1000, 2000]


def test_three_failures_switch_it_off_and_say_why(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        holder, _n, me = c.holder_with_card()
        c.paid_topup(me, 800)
        assert _save(c, me, "pm_card_chargeCustomerFail", 790, 1000).status_code == 200
        for n in range(1, 4):
            queued = _fare(c, holder, 50)
            assert queued is not None
            auto_topup.run_queued(c.sessions(), c.settings)
            state = c.client.get("/v1/me/auto-topup", headers=me).json()
            assert state["consecutive_failures"] == n
        assert state["enabled"] is False
        assert "failed" in state["disabled_reason"] and "visa" in state["disabled_reason"]
        assert _fare(c, holder, 50) is None  # off: nothing more is tried
        # localstripe's payment_failed events arrive later and are not counted again.
        wait_until(
            lambda: len([e for e in c.events() if e.type == "payment_intent.payment_failed"]) == 3,
            15,
            "three failure events",
        )
        assert c.client.get("/v1/me/auto-topup", headers=me).json()["consecutive_failures"] == 3
        overview = c.client.get("/v1/me/payments", headers=me).json()
        assert any("Auto top-up is off" in n for n in overview["notices"])
        assert overview["balance_cents"] == 800 - 4 * 50
        assert c.audit(action="payments.auto_topup_off")[0]["target"] == f"holder:{holder}"
        assert c.reconcile().ok

        # Setting it up again with a card that works clears the reason.
        again = _save(c, me, "pm_card_visa", 700, 1000)
        assert again.json()["enabled"] and again.json()["disabled_reason"] is None


def test_bad_auto_topup_settings_are_refused(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        _holder, _n, me = c.holder_with_card()
        none = c.client.get("/v1/me/auto-topup", headers=me)
        assert none.status_code == 404 and none.json()["code"] == "auto_topup_not_set"
        too_much = _save(c, me, "pm_card_visa", 10_000, 6_000)
        assert too_much.json()["code"] == "purse_limit_exceeded"
        too_little = _save(c, me, "pm_card_visa", 100, 100)
        assert too_little.json()["code"] == "topup_below_minimum"
        # A SetupIntent of someone else (or never confirmed) is refused.
        setup = c.client.post("/v1/me/auto-topup/setup", headers=me).json()
        unconfirmed = c.client.put(
            "/v1/me/auto-topup",
            headers=me,
            json={
                "setup_intent_id": setup["setup_intent_id"],
                "threshold_cents": 500,
                "amount_cents": 1000,
            },
        )
        assert unconfirmed.json()["code"] == "payment_method_invalid"
