"""Settling uploaded taps: each tap answered by name, money moved once, ledger verify clean."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import select

from card_service.db import transaction
from card_service.terminals.models import PurseDenial
from terminals.virtual_card.state import CardStore
from tests.settlement.support import City, city, results, verify_clean


def _upload(c: City, identity, taps) -> list[dict]:  # type: ignore[no-untyped-def]
    return c.client(identity).upload([t.to_json() if hasattr(t, "to_json") else t for t in taps])


def test_a_batch_uploaded_three_times_settles_once(db_url: str, tmp_path: Path) -> None:
    with city(db_url, tmp_path) as c:
        bus = c.enrol(11)
        a, b = c.card(1000), c.card(500)
        taps = [c.tap(11, a, 150, seq=1), c.tap(11, b, 150, seq=2), c.tap(11, a, 150, seq=3)]
        first = _upload(c, bus, taps)
        assert results(first) == [(1, "settled", None), (2, "settled", None), (3, "settled", None)]
        for _ in range(2):
            again = _upload(c, bus, taps)
            assert results(again) == results(first)
            assert all(x["replayed"] for x in again)
        assert c.balance(c.purse(a)) == 700 and c.balance(c.purse(b)) == 350
        assert c.revenue("bus") == 450
        verify_clean(c)


def test_forged_malformed_and_replayed_taps_are_named_and_the_rest_settles(
    sqlite_url: str, tmp_path: Path
) -> None:
    with city(sqlite_url, tmp_path) as c:
        bus = c.enrol(12)
        card = c.card(1000)
        good = c.tap(12, card, 100, seq=1)
        store: CardStore = c.cards[card].applet.store
        before = store.path.read_text()  # a cloned card: its state rolled back after a tap
        spent = c.tap(12, card, 100, seq=2)
        store.path.write_text(before)
        c.cards[card].applet.card = store.load()
        replayed = c.tap(12, card, 100, seq=3)
        assert replayed.record.card_counter == spent.record.card_counter
        forged = json.loads(json.dumps(c.tap(12, card, 100, seq=4).to_json()))
        forged["mac"] = ("00" if forged["mac"][:2] != "00" else "11") + forged["mac"][2:]
        inflated = c.tap(12, card, 100, seq=5).to_json()
        inflated["holder_cents"] = 5  # not what the card MACed
        other = c.tap(99, card, 100, seq=6).to_json()  # another terminal's record
        answers = _upload(c, bus, [good, spent, replayed, forged, inflated, other, {"x": 1}])
        assert results(answers) == [
            (1, "settled", None),
            (2, "settled", None),
            (3, "rejected", "counter_replayed"),
            (4, "rejected", "mac_mismatch"),
            (5, "rejected", "malformed_tap"),
            (6, "rejected", "terminal_mismatch"),
            (None, "rejected", "malformed_tap"),
        ]
        assert answers[6]["index"] == 6
        assert c.balance(c.purse(card)) == 800
        verify_clean(c)


def test_blocked_unknown_and_empty_cards_are_exceptions_not_dropped(
    pg_url: str, tmp_path: Path
) -> None:
    with city(pg_url, tmp_path) as c:
        bus = c.enrol(13)
        lost, poor = c.card(1000), c.card(100)
        before_block = c.tap(13, lost, 150, seq=1)
        time.sleep(1.1)
        r = c.d.as_("clerk", "POST", f"/v1/cards/{c.numbers[lost]}/block", json={"reason": "lost"})
        assert r.status_code == 200, r.text
        time.sleep(1.1)
        after_block = c.tap(13, lost, 150, seq=2)
        too_much = c.tap(13, poor, 700, seq=3)  # 1.00 - 7.00 is past the 5.00 allowance
        answers = _upload(c, bus, [before_block, after_block, too_much])
        assert results(answers) == [
            (1, "settled", None),
            (2, "exception", "card_blocked"),
            (3, "exception", "purse_below_floor"),
        ]
        assert c.balance(c.purse(lost)) == 850 and c.balance(c.purse(poor)) == 100
        report = c.d.as_("auditor", "GET", "/v1/terminals/exceptions").json()
        assert [(x["seq"], x["reason"]) for x in report] == [
            (2, "card_blocked"),
            (3, "purse_below_floor"),
        ]
        verify_clean(c)


def test_a_card_the_back_office_never_issued_is_an_exception(
    sqlite_url: str, tmp_path: Path
) -> None:
    with city(sqlite_url, tmp_path) as c:
        bus = c.enrol(14)
        chip = c.card(0)
        tap = c.tap(14, chip, 0, seq=1, concession_cents=150, concession_category="senior")
        wire = tap.to_json()
        wire["uid"] = "04" + "00" * 6  # a card with the city's keys but unknown here: MAC fails
        stranger = _upload(c, bus, [wire])
        assert results(stranger) == [(1, "rejected", "mac_mismatch")]
        with transaction(c.d.sessions()) as s:  # the card is forgotten by the back office
            from sqlalchemy import text

            s.execute(text("UPDATE cards SET chip_uid = NULL WHERE chip_uid = :c"), {"c": chip})
        second = c.tap(14, chip, 0, seq=2, concession_cents=150, concession_category="senior")
        assert results(_upload(c, bus, [second])) == [(2, "exception", "card_unknown")]


def test_concession_fares_charge_the_budget_and_a_gap_is_named(
    sqlite_url: str, tmp_path: Path
) -> None:
    with city(sqlite_url, tmp_path) as c:
        bus = c.enrol(15)
        senior = c.card(1000, categories=("senior",))
        one = c.tap(15, senior, 50, seq=1, concession_cents=100, concession_category="senior")
        four = c.tap(15, senior, 50, seq=4, concession_cents=100, concession_category="senior")
        answers = _upload(c, bus, [one, four])
        assert results(answers) == [(1, "settled", None), (4, "settled", None)]
        assert "warning" not in answers[0] and answers[1]["warning"] == "sequence_gap"
        assert c.balance(c.purse(senior)) == 900
        assert c.balance("concession:senior") == -200 and c.revenue("bus") == 300
        void = _upload(c, bus, [{"seq": 2, "kind": "void", "reason": "not_counted"}])
        assert results(void) == [(2, "void", "not_counted")]
        verify_clean(c)


def test_offline_taps_take_a_purse_below_zero_down_to_its_floor_and_it_is_deny_listed(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The validator cannot see the balance: rides taken on 1.00 EUR settle down to the purse's
    floor (5.00 EUR below zero), the one past it is an exception, and the card is deny-listed
    (from the moment nothing is left) until a top-up lifts it."""
    with city(sqlite_url, tmp_path) as c:
        bus = c.enrol(16)
        card = c.card(100)
        rides = [c.tap(16, card, 150, seq=n) for n in range(1, 6)]
        answers = _upload(c, bus, rides)
        assert results(answers) == [(n, "settled", None) for n in range(1, 5)] + [
            (5, "exception", "purse_below_floor")
        ]
        assert c.balance(c.purse(card)) == -500 and c.revenue("bus") == 600
        with transaction(c.d.sessions()) as s:
            rows = s.execute(select(PurseDenial.chip_uid, PurseDenial.action)).all()
        assert rows == [(card, "add")]
        verify_clean(c)
        c.top_up(card, 600)
        from card_service.terminals.denials import refresh_purse_denials

        with transaction(c.d.sessions()) as s:
            assert refresh_purse_denials(s, [c.purse(card)]) == 1
            rows = s.execute(select(PurseDenial.action).order_by(PurseDenial.position)).all()
        assert [r[0] for r in rows] == ["add", "remove"]


def test_taps_days_late_settle_normally(sqlite_url: str, tmp_path: Path) -> None:
    with city(sqlite_url, tmp_path) as c:
        bus = c.enrol(17)
        card = c.card(1000)
        from terminals.pcsc.tap import TapTerminal

        five_days_ago = time.time() - 5 * 86400
        terminal = TapTerminal(
            c.keys, c.keys.issuer_public_keys(), 17, lambda: five_days_ago, lambda _: 150
        )
        outcome = terminal.present(c.cards[card])
        assert outcome.record is not None and outcome.mac is not None
        tap = c.tap(17, card, 150, seq=2)
        old = tap.to_json() | {
            "seq": 1,
            "record": outcome.record.to_bytes().hex(),
            "mac": outcome.mac.hex(),
        }
        assert results(_upload(c, bus, [old, tap])) == [(1, "settled", None), (2, "settled", None)]
