"""The cap true-up: a day's boardings spread over several buses (each validator offline, each
charging what it saw) cost the holder no more than the daily and weekly caps, once settled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from card_service.audit.schemas import Actor
from card_service.catalogue import service as catalogue
from card_service.db import transaction
from card_service.terminals.caps import true_up
from tests.settlement.support import City, city, results, verify_clean

GIJON = Path("card_service/catalogue/data/gijon.yaml")  # bus caps: 4.50 EUR a day, 18.00 a week
MADRID = ZoneInfo("Europe/Madrid")


def _catalogue(c: City) -> None:
    since = datetime.now(UTC) - timedelta(days=40)
    with transaction(c.d.sessions()) as s:
        catalogue.load(s, GIJON.read_text(), since, Actor.system("test"), now=since)


def _ride(c: City, bus: int, chip: str, at: datetime) -> None:
    """One boarding on a bus of its own, charged the single fare by a validator that saw no
    other boarding of the day."""
    identity = c.enrol(bus)
    tap = c.tap(bus, chip, 150, seq=1, clock=lambda: at.timestamp())
    assert results(c.client(identity).upload([tap.to_json()])) == [(1, "settled", None)]


def _true_up(c: City) -> list[tuple[str, int]]:
    with transaction(c.d.sessions()) as s:
        return [(r.period, r.amount_cents) for r in true_up(s, datetime.now(UTC))]


def test_a_day_over_the_cap_is_refunded_once_and_a_late_tap_adds_to_it(db_url, tmp_path):
    with city(db_url, tmp_path) as c:
        _catalogue(c)
        chip = c.card(2000)
        purse = c.purse(chip)
        day = (datetime.now(MADRID) - timedelta(days=2)).replace(hour=9, minute=0)
        for i in range(4):  # an hour apart: no free change of bus
            _ride(c, 40 + i, chip, day + timedelta(hours=i))
        assert c.balance(purse) == 2000 - 600

        with transaction(c.d.sessions()) as s:  # what is due, counted without writing
            due = true_up(s, datetime.now(UTC), write=False)
        assert [(r.period, r.amount_cents) for r in due] == [(f"day:{day.date()}", 150)]
        assert c.balance(purse) == 2000 - 600
        assert _true_up(c) == [(f"day:{day.date()}", 150)]  # 6.00 paid, 4.50 cap
        assert c.balance(purse) == 2000 - 450 and c.revenue("bus") == 450
        assert _true_up(c) == []  # run again: nothing twice
        assert c.balance(purse) == 2000 - 450

        _ride(c, 44, chip, day + timedelta(hours=6))  # uploaded late, the same day
        assert _true_up(c) == [(f"day:{day.date()}", 150)]
        assert c.balance(purse) == 2000 - 450 and c.revenue("bus") == 450
        verify_clean(c)


def test_a_week_over_the_weekly_cap_is_refunded_past_the_daily_caps(sqlite_url, tmp_path):
    with city(sqlite_url, tmp_path) as c:
        _catalogue(c)
        chip = c.card(5000)
        purse = c.purse(chip)
        today = datetime.now(MADRID)
        monday = (today - timedelta(days=today.weekday() + 7)).replace(hour=9, minute=0)
        for d in range(5):  # last week, Monday to Friday: 4.50 a day, each day at its cap
            for i in range(3):
                _ride(c, 50 + 3 * d + i, chip, monday + timedelta(days=d, hours=i))
        _ride(c, 70, chip, monday + timedelta(days=5, hours=1))  # Saturday, one ride
        assert c.balance(purse) == 5000 - 16 * 150

        # 24.00 paid; every day within 4.50; the week's cap is 18.00.
        assert _true_up(c) == [(f"week:{monday.date()}", 2400 - 1800)]
        assert c.balance(purse) == 5000 - 1800
        assert _true_up(c) == []
        verify_clean(c)
