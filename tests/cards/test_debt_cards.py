"""Cards of a holder in debt after a lost dispute: the debt belongs to the holder, like the purse.
A card issued or replaced while it is open starts on the deny list, a found card unblocked while
it is open stays on it, the clerk sees why on the card; paying the debt takes the live card off."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

from card_service.cards.service import purse_code
from card_service.db import transaction
from card_service.ledger import service as ledger
from card_service.ledger.schemas import TransferRequest
from tests.payments.conftest import localstripe  # noqa: F401  (the fixture)
from tests.payments.rig import LocalStripe, counter, event
from tests.payments.test_disputes_and_kiosk import _deny_list, _dispute


def test_a_holder_in_debt_gets_cards_that_stay_denied_until_paid(
    db_url: str,
    tmp_path: Path,
    localstripe: LocalStripe,  # noqa: F811
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        holder, first, me = c.holder_with_card()
        paid = c.paid_topup(me, 1000)
        with transaction(c.sessions()) as s:  # 600 spent on buses
            purse = ledger.find_account(s, purse_code(holder)).id
            bus = ledger.open_account(s, code="revenue:bus", kind="service_revenue").id
            fare = TransferRequest(uuid.uuid4(), purse, bus, 600, "fare")
            assert ledger.create_transfers(s, [fare])[0].ok
        charge = localstripe.get(f"/v1/payment_intents/{paid['payment_intent_id']}")
        lost = _dispute(paid, charge["latest_charge"]["id"], 1000, "lost")
        assert c.post_event(event("charge.dispute.created", lost)).json()["outcome"] == "applied"
        assert c.balance(me) == -600
        assert _deny_list(c, first) == [("add", "purse_debt")]

        def card(number: str) -> dict[str, object]:
            r = c.as_("clerk", "GET", f"/v1/cards/{number}")
            assert r.status_code == 200, r.text
            body: dict[str, object] = r.json()
            return body

        # Lost, then replaced: the new card carries the debt onto the deny list.
        assert c.as_(
            "clerk", "POST", f"/v1/cards/{first}/block", json={"reason": "lost"}
        ).is_success
        chip = secrets.token_hex(7).upper()
        r = c.as_("clerk", "POST", f"/v1/cards/{first}/replace", json={"chip_uid": chip})
        assert r.status_code == 201, r.text
        second = r.json()["number"]
        assert (r.json()["deny_listed"], r.json()["holder_debt_cents"]) == (True, 600)
        assert _deny_list(c, second) == [("add", "purse_debt")]
        replaced = c.audit(action="card.replace")[0]
        assert "debt of 600 cents" in replaced["reason"]

        # Lost and found again while in debt: active, and still denied.
        assert c.as_(
            "clerk", "POST", f"/v1/cards/{second}/block", json={"reason": "lost"}
        ).is_success
        r = c.as_("supervisor", "POST", f"/v1/cards/{second}/unblock")
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["deny_listed"]) == ("active", True)
        assert _deny_list(c, second) == [("add", "purse_debt"), ("add", "lost")]

        # Revoked, and a new card issued: denied from the start too.
        assert c.as_(
            "supervisor", "POST", f"/v1/cards/{second}/revoke", json={"reason": "test revoke"}
        ).is_success
        third = c.card(holder, pin="4321", chip=secrets.token_hex(7).upper())
        assert (third["deny_listed"], third["holder_debt_cents"]) == (True, 600)
        assert _deny_list(c, third["number"]) == [("add", "purse_debt")]

        # The holder pays the debt with the new card: it comes off the list; old ones stay on.
        again = c.citizen(str(third["number"]), "4321")
        c.paid_topup(again, 1000)
        assert c.balance(again) == 400
        assert _deny_list(c, third["number"]) == [("add", "purse_debt"), ("remove", "debt_settled")]
        assert (
            card(third["number"])["deny_listed"],
            card(third["number"])["holder_debt_cents"],
        ) == (
            False,
            0,
        )
        assert card(first)["deny_listed"] and card(second)["deny_listed"]


def test_without_debt_a_found_card_comes_off_the_list(
    db_url: str,
    tmp_path: Path,
    localstripe: LocalStripe,  # noqa: F811
) -> None:
    with counter(db_url, tmp_path, localstripe) as c:
        _holder, number, _me = c.holder_with_card()
        assert c.as_(
            "clerk", "POST", f"/v1/cards/{number}/block", json={"reason": "lost"}
        ).is_success
        r = c.as_("supervisor", "POST", f"/v1/cards/{number}/unblock")
        assert (r.json()["deny_listed"], r.json()["holder_debt_cents"]) == (False, 0)
        assert _deny_list(c, number) == [("add", "lost"), ("remove", "found")]
