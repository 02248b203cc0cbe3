"""Auto top-up end to end: a bus validator's taps settle, the purse falls below the holder's
threshold, settlement's hook queues the auto top-up, the worker pays it on localstripe; the same
batch uploaded again changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from card_service.cards.issuing import keystore_for
from card_service.payments import auto_topup, worker
from card_service.payments.models import StripeEvent, TopUp
from card_service.staff.roles import Role
from terminals.sync import SyncClient
from tests.payments.rig import LocalStripe, counter, wait_until
from tests.payments.test_auto_topup import _save
from tests.settlement.support import City, results


def test_settled_taps_below_the_threshold_pay_one_auto_topup_even_when_resent(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(
        db_url,
        tmp_path,
        localstripe,
        keystore_path=tmp_path / "keystore.json",
        keystore_passphrase="test",
    ) as c:
        c.add_staff("admin", Role.ADMIN)
        keys = keystore_for(c.settings)
        if 0 not in keys.masters:
            keys.masters[0] = os.urandom(16)
        town = City(c, tmp_path, keys)  # type: ignore[arg-type]
        chip = town.card(balance_cents=0)
        me = c.citizen(town.numbers[chip])
        c.paid_topup(me, 1000)
        assert _save(c, me, "pm_card_visa", 500, 2000).status_code == 200
        bus = SyncClient(c.served.base, town.enrol(31), http=c.client)

        def autos() -> list[TopUp]:
            with c.sessions()() as s:
                return list(s.scalars(select(TopUp).where(TopUp.kind == "auto")))

        above = [town.tap(31, chip, 300, seq=1).to_json()]
        assert results(bus.upload(above)) == [(1, "settled", None)]
        assert c.balance(me) == 700 and autos() == []  # still above the threshold

        batch = [town.tap(31, chip, 150, seq=2).to_json(), town.tap(31, chip, 150, seq=3).to_json()]
        assert results(bus.upload(batch)) == [(2, "settled", None), (3, "settled", None)]
        assert c.balance(me) == 400
        queued = autos()
        assert [(t.status, t.amount_cents) for t in queued] == [("queued", 2000)]

        # The validator did not hear the answer and sends the batch again, twice.
        for _ in range(2):
            again = bus.upload(above + batch)
            assert all(a["replayed"] for a in again)
        assert [t.id for t in autos()] == [queued[0].id]

        assert worker.run_once(c.sessions(), c.settings)["auto_topups"] == 1
        assert c.balance(me) == 400 + 2000  # spendable at once

        # Sent once more after the payment: still nothing new to pay.
        bus.upload(above + batch)
        assert auto_topup.run_queued(c.sessions(), c.settings) == 0
        paid = autos()
        assert [(t.status, t.credited_cents) for t in paid] == [("succeeded", 2000)]
        intent = paid[0].stripe_payment_intent_id

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
        assert c.balance(me) == 2400
        charged = [
            p
            for p in localstripe.list("/v1/payment_intents")
            if p["metadata"].get("kind") == "auto"
        ]
        assert [(p["amount"], p["status"]) for p in charged] == [(2000, "succeeded")]
        assert c.reconcile().ok
