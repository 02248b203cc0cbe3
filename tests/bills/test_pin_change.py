"""A citizen changes their PIN: the current PIN is counted like a sign-in."""

from __future__ import annotations

from pathlib import Path

from tests.api.support import desk


def test_change_pin(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        number = d.card(d.person())["number"]
        me = d.citizen(number)
        r = d.client.post("/v1/me/pin", headers=me, json={"old_pin": "1234", "new_pin": "9876"})
        assert r.status_code == 204, r.text
        old = d.client.post("/v1/me/login", json={"card_number": number, "pin": "1234"})
        assert old.json()["code"] == "pin_wrong"
        d.citizen(number, "9876")
        bad = d.client.post("/v1/me/pin", headers=me, json={"old_pin": "1234", "new_pin": "12"})
        assert bad.status_code == 422


def test_three_wrong_current_pins_block_it(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        number = d.card(d.person())["number"]
        me = d.citizen(number)
        codes = []
        for _ in range(3):
            r = d.client.post("/v1/me/pin", headers=me, json={"old_pin": "0000", "new_pin": "5555"})
            codes.append(r.json()["code"])
        assert codes == ["pin_wrong", "pin_wrong", "pin_blocked"]
        r = d.client.post("/v1/me/login", json={"card_number": number, "pin": "1234"})
        assert r.status_code == 423 and r.json()["code"] == "pin_blocked"
