"""A clerk's and a supervisor's day with cards: issue, block, unblock, replace, renew, revoke."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from card_service.api.app import create_app
from card_service.cards import luhn
from card_service.cards.models import Card, DenyListChange
from card_service.cards.service import any_due
from card_service.cli import app
from card_service.config import get_settings
from card_service.db import transaction
from tests.api.support import desk


def _deny_list(d, number: str) -> list[str]:  # type: ignore[no-untyped-def]
    with transaction(d.sessions()) as s:
        return list(
            s.scalars(
                select(DenyListChange.action)
                .where(DenyListChange.card_number == number)
                .order_by(DenyListChange.position)
            )
        )


def test_issue_block_unblock_replace(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        card = d.card(holder)
        assert card["status"] == "active" and luhn.is_valid(card["number"])
        assert card["holder_id"] == holder and card["pin_set"]
        assert date.fromisoformat(card["expires_on"]) > date.today() + timedelta(days=4 * 365)

        # A second active card for the same holder is refused, nothing written.
        second = d.as_(
            "clerk", "POST", f"/v1/holders/{holder}/cards", json={"chip_uid": "04FFFFFFFF"}
        )
        assert second.status_code == 409 and second.json()["code"] == "card_already_active"
        assert len(d.as_("clerk", "GET", f"/v1/holders/{holder}/cards").json()) == 1

        number = card["number"]
        blocked = d.as_("clerk", "POST", f"/v1/cards/{number}/block", json={"reason": "lost"})
        assert blocked.json()["status"] == "blocked"
        assert _deny_list(d, number) == ["add"]
        again = d.as_("clerk", "POST", f"/v1/cards/{number}/block", json={"reason": "stolen"})
        assert again.status_code == 409 and again.json()["code"] == "card_already_blocked"

        # A clerk may not unblock: forbidden, recorded as denied, card unchanged.
        refused = d.as_("clerk", "POST", f"/v1/cards/{number}/unblock")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        denied = d.audit(actor="clerk", outcome="denied")
        assert denied and denied[0]["action"] == "POST /v1/cards/{number}/unblock"
        assert d.as_("clerk", "GET", f"/v1/cards/{number}").json()["status"] == "blocked"

        found = d.as_("supervisor", "POST", f"/v1/cards/{number}/unblock")
        assert found.status_code == 200 and found.json()["status"] == "active"
        assert _deny_list(d, number) == ["add", "remove"]

        # Damaged: blocked, then replaced; the old card stays on the deny list.
        d.as_("clerk", "POST", f"/v1/cards/{number}/block", json={"reason": "damaged"})
        assert d.as_("supervisor", "POST", f"/v1/cards/{number}/unblock").json()["code"] == (
            "card_state_invalid"
        )
        new = d.as_("clerk", "POST", f"/v1/cards/{number}/replace", json={"chip_uid": "04C0FFEE00"})
        assert new.status_code == 201, new.text
        assert new.json()["replaces"] == number and new.json()["status"] == "active"
        assert new.json()["pin_set"]  # the PIN carries over unless a new one is given
        assert d.as_("clerk", "GET", f"/v1/cards/{number}").json()["status"] == "replaced"
        assert _deny_list(d, number) == ["add", "remove", "add"]
        # The purse belongs to the holder: the new card signs in to the same purse.
        me = d.citizen(new.json()["number"])
        assert d.client.get("/v1/me/balance", headers=me).json() == {
            "balance_cents": 0,
            "available_cents": 0,
        }

        actions = [e["action"] for e in d.audit(target=f"card:{number}")]
        assert {"card.issue", "card.block", "card.unblock"} <= set(actions)


def test_unknown_card_and_requested_card(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        assert (
            d.as_("clerk", "GET", "/v1/cards/9724000000000000").json()["code"] == "card_not_found"
        )
        assert d.as_("clerk", "GET", "/v1/cards/1234").status_code == 404
        holder = d.person()
        r = d.as_("clerk", "POST", f"/v1/holders/{holder}/cards", json={})
        assert r.json()["status"] == "requested"  # printed later, chip not known yet
        number = r.json()["number"]
        assert d.as_("clerk", "POST", f"/v1/holders/{holder}/cards", json={}).json()["code"] == (
            "card_already_active"
        )
        ok = d.as_("clerk", "POST", f"/v1/cards/{number}/activate", json={"chip_uid": "04AB12CD34"})
        assert ok.json()["status"] == "active" and ok.json()["chip_uid"] == "04AB12CD34"
        twice = d.as_(
            "clerk", "POST", f"/v1/cards/{number}/activate", json={"chip_uid": "04AB12CD35"}
        )
        assert twice.json()["code"] == "card_state_invalid"


def test_renewal_window_and_revocation(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        holder = d.person()
        number = d.card(holder)["number"]
        early = d.as_("clerk", "POST", f"/v1/cards/{number}/renew", json={})
        assert early.status_code == 409 and early.json()["code"] == "card_not_renewable"
        with transaction(d.sessions()) as s:
            s.execute(
                update(Card)
                .where(Card.number == number)
                .values(expires_on=date.today() + timedelta(days=30))
            )
        renewed = d.as_(
            "clerk", "POST", f"/v1/cards/{number}/renew", json={"chip_uid": "04BEEF0001"}
        )
        assert renewed.status_code == 201 and renewed.json()["replaces"] == number
        assert _deny_list(d, number) == ["add"]  # the old card stops working at once
        new_number = renewed.json()["number"]
        assert (
            d.as_(
                "clerk", "POST", f"/v1/cards/{new_number}/revoke", json={"reason": "fraud"}
            ).status_code
            == 403
        )
        revoked = d.as_(
            "supervisor",
            "POST",
            f"/v1/cards/{new_number}/revoke",
            json={"reason": "fraud confirmed"},
        )
        assert revoked.json()["status"] == "revoked"
        assert _deny_list(d, new_number) == ["add"]
        with transaction(d.sessions()) as s:
            assert s.scalar(select(func.count()).select_from(Card)) == 2


def test_expiry_puts_live_cards_on_the_deny_list(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with desk(sqlite_url, tmp_path) as d:
        live = d.card(d.person())["number"]
        other = d.person(national_id="00000000T")
        lost = d.card(other, chip="04DEAD0001")["number"]
        d.as_("clerk", "POST", f"/v1/cards/{lost}/block", json={"reason": "lost"})
        with d.sessions()() as s:
            assert not any_due(s, date.today())  # the service's daily check finds nothing
        with transaction(d.sessions()) as s:
            s.execute(update(Card).values(expires_on=date.today() - timedelta(days=1)))
        with d.sessions()() as s:
            assert any_due(s, date.today())
        refused = d.client.post("/v1/me/login", json={"card_number": live, "pin": "1234"})
        assert refused.json()["code"] == "card_expired"
        monkeypatch.setenv("CARD_SERVICE_DATABASE_URL", sqlite_url)
        get_settings.cache_clear()
        try:
            out = CliRunner().invoke(app, ["cards", "expire"])
        finally:
            get_settings.cache_clear()
        assert out.exit_code == 0 and "expired 2 cards" in out.output
        assert d.as_("clerk", "GET", f"/v1/cards/{live}").json()["status"] == "expired"
        assert _deny_list(d, live) == ["add"]
        assert _deny_list(d, lost) == ["add"]  # already there since it was blocked
        with d.sessions()() as s:
            assert not any_due(s, date.today())
        assert d.as_("supervisor", "POST", f"/v1/cards/{lost}/unblock").json()["code"] == (
            "card_not_blocked"
        )


def test_the_running_service_expires_cards_past_their_date(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        number = d.card(d.person())["number"]
        with transaction(d.sessions()) as s:
            s.execute(update(Card).values(expires_on=date.today() - timedelta(days=1)))
        cfg = d.settings.model_copy(update={"ledger_maintenance_interval_s": 0.05})
        with TestClient(create_app(cfg)):  # a restarted service checks at once, then daily
            deadline = time.monotonic() + 10
            while _status(d, number) != "expired" and time.monotonic() < deadline:
                time.sleep(0.05)
        assert _status(d, number) == "expired"
        assert _deny_list(d, number) == ["add"]


def _status(d, number: str) -> str:  # type: ignore[no-untyped-def]
    with transaction(d.sessions()) as s:
        return str(s.scalar(select(Card.status).where(Card.number == number)))
