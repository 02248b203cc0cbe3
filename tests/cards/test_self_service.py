"""A citizen signs in with card and PIN, sees the purse, blocks the card, downloads their data."""

from __future__ import annotations

import uuid
from pathlib import Path

from card_service.cards.service import purse_code
from card_service.db import transaction
from card_service.ledger.schemas import TransferRequest
from card_service.ledger.service import create_transfer, find_account, open_account
from tests.api.support import PERSON, desk


def test_pin_sign_in_balance_movements_and_block(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        number = d.card(holder, pin="2468")["number"]
        with transaction(d.sessions()) as s:  # a top-up at a kiosk, through the ledger
            cash = open_account(s, code="kiosk_cash:test", kind="kiosk_cash")
            purse = find_account(s, purse_code(holder))
            create_transfer(s, TransferRequest(uuid.uuid4(), cash.id, purse.id, 1500, "topup"))
        me = d.citizen(number, "2468")
        assert d.client.get("/v1/me/balance", headers=me).json()["balance_cents"] == 1500
        moves = d.client.get("/v1/me/movements", headers=me).json()
        assert [(m["amount_cents"], m["code"]) for m in moves] == [(1500, "topup")]
        overview = d.client.get("/v1/me", headers=me).json()
        assert overview["name"] == "Covadonga" and overview["card"]["number"] == number

        # A citizen's session opens no staff route and no other holder's card.
        assert d.client.get(f"/v1/cards/{number}", headers=me).json()["code"] == "forbidden"

        blocked = d.client.post("/v1/me/card/block", headers=me, json={"reason": "stolen"})
        assert blocked.status_code == 200 and blocked.json()["status"] == "blocked"
        again = d.client.post("/v1/me/card/block", headers=me, json={"reason": "stolen"})
        assert again.json()["code"] == "card_already_blocked"
        refused = d.client.post("/v1/me/login", json={"card_number": number, "pin": "2468"})
        assert refused.json()["code"] == "card_state_invalid"


def test_three_wrong_pins_block_until_a_clerk_resets(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        number = d.card(d.person(), pin="2468")["number"]
        login = {"card_number": number, "pin": "0000"}
        first = d.client.post("/v1/me/login", json=login)
        assert first.status_code == 401 and first.json()["code"] == "pin_wrong"
        assert d.client.post("/v1/me/login", json=login).json()["code"] == "pin_wrong"
        third = d.client.post("/v1/me/login", json=login)
        assert third.status_code == 423 and third.json()["code"] == "pin_blocked"
        right = d.client.post("/v1/me/login", json={"card_number": number, "pin": "2468"})
        assert right.json()["code"] == "pin_blocked"  # even the right PIN, until a reset
        assert d.as_("clerk", "GET", f"/v1/cards/{number}").json()["pin_blocked"]
        failures = d.audit(target=f"card:{number}", action="citizen.sign_in")
        assert [e["outcome"] for e in failures] == ["denied", "failed", "failed", "failed"]

        reset = d.as_("clerk", "POST", f"/v1/cards/{number}/pin", json={"pin": "9753"})
        assert reset.status_code == 200 and not reset.json()["pin_blocked"]
        assert d.citizen(number, "9753")
        unknown = d.client.post(
            "/v1/me/login", json={"card_number": "9724000000000000", "pin": "1"}
        )
        assert unknown.status_code == 404 and unknown.json()["code"] == "card_not_found"


def test_export_holds_everything_about_me(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        holder = d.person()
        d.as_(
            "clerk",
            "POST",
            f"/v1/holders/{holder}/evidence",
            json={"doc_type": "census_certificate", "number": "GIJ-2026-0042"},
        )
        number = d.card(holder)["number"]
        me = d.citizen(number)
        data = d.client.get("/v1/me/export", headers=me).json()
        personal = data["holder"]["personal"]
        assert personal["surnames"] == PERSON["surnames"]
        assert personal["national_id"] == "12345678Z"
        assert personal["address"]["street"] == "Calle Corrida 1"
        assert [c["number"] for c in data["cards"]] == [number]
        assert data["evidence"][0]["doc_type"] == "census_certificate"
        assert data["evidence"][0]["checked_by"] == "clerk"
        actions = {e["action"] for e in data["audit_trail"]}
        assert {"holder.create_person", "card.issue", "citizen.sign_in"} <= actions
        assert d.audit(action="holder.export")[0]["target"] == f"holder:{holder}"
