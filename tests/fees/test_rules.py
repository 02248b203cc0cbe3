"""Transfers, caps, the 04:30 day boundary, passes, units, and the named errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from card_service.protocol.fees import (
    FareRules,
    ProductNotOfService,
    ProductUnknown,
    QuantityInvalid,
    RulesInvalid,
    ServiceUnknown,
    Use,
    period_starts,
    quote,
)
from tests.fees.support import GIJON, NOBODY, adult, as_use, gijon_dict, local, replay


def bus_day(*times: datetime) -> list[int]:
    return [q.holder_cents for q, _ in replay(GIJON, NOBODY, [("bus", "single", t) for t in times])]


def test_one_free_transfer_within_45_minutes_of_the_first_boarding() -> None:
    t0 = local(2026, 12, 2, 8, 0)
    quotes = replay(GIJON, NOBODY, [("bus", "single", t0 + timedelta(minutes=m)) for m in (0, 30)])
    assert [q.rule for q, _ in quotes] == ["base", "transfer"]
    assert (quotes[1][0].price_cents, quotes[1][0].holder_cents) == (0, 0)
    # The window is measured from the first boarding: 46 minutes after it pays again.
    assert bus_day(t0, t0 + timedelta(minutes=46)) == [150, 150]
    assert bus_day(t0, t0 + timedelta(minutes=45)) == [150, 0]


def test_a_transfer_does_not_restart_the_window_and_the_count_is_data() -> None:
    t0 = local(2026, 12, 2, 8, 0)
    assert bus_day(t0, t0 + timedelta(minutes=10), t0 + timedelta(minutes=20)) == [150, 0, 150]
    data = gijon_dict()
    data["services"]["bus"]["transfer"]["max_transfers"] = 2
    two = FareRules.from_dict(data)
    taps = [("bus", "single", t0 + timedelta(minutes=m)) for m in (0, 10, 20, 50)]
    assert [q.holder_cents for q, _ in replay(two, NOBODY, taps)] == [150, 0, 0, 150]


def test_a_concession_rider_transfers_free_at_no_cost_to_the_budget() -> None:
    t0 = local(2026, 12, 2, 8, 0)
    quotes = replay(GIJON, adult("pension"), [("bus", "single", t0), ("bus", "single", t0)])
    assert [(q.holder_cents, q.concession_cents) for q, _ in quotes] == [(0, 150), (0, 0)]


def test_daily_cap_limits_what_the_holder_pays() -> None:
    t = [local(2026, 12, 2, h) for h in (7, 9, 11, 13, 15)]
    assert bus_day(*t) == [150, 150, 150, 0, 0]
    quotes = replay(GIJON, adult("social"), [("bus", "single", x) for x in t] * 1)
    assert [q.holder_cents for q, _ in quotes] == [40, 40, 40, 40, 40]
    capped = replay(GIJON, NOBODY, [("bus", "single", x) for x in t])[3][0]
    assert capped.rule == "cap_day" and capped.price_cents == 0


def test_the_day_starts_at_0430_local_time() -> None:
    # Three paid rides on Tuesday evening; 04:29 on Wednesday still belongs to Tuesday.
    evening = [local(2026, 12, 1, h) for h in (18, 20, 22)]
    assert bus_day(*evening, local(2026, 12, 2, 4, 29)) == [150, 150, 150, 0]
    assert bus_day(*evening, local(2026, 12, 2, 4, 30)) == [150, 150, 150, 150]
    day, week = period_starts(GIJON, datetime(2026, 12, 2, 3, 0, tzinfo=UTC))  # 04:00 Madrid
    assert day == local(2026, 12, 1, 4, 30)
    assert week == local(2026, 11, 30, 4, 30)  # Monday


def test_weekly_cap_counts_from_monday_at_the_boundary() -> None:
    monday = local(2026, 11, 30, 4, 30)
    taps = [monday + timedelta(days=d, hours=h) for d in range(7) for h in (1, 3, 5)]
    quotes = replay(GIJON, NOBODY, [("bus", "single", t) for t in taps])
    assert sum(q.holder_cents for q, _ in quotes) == 1800
    assert quotes[-1][0].rule == "cap_week"
    # Next Monday at 04:30 the week starts again.
    nxt = quote(
        GIJON,
        NOBODY,
        "bus",
        "single",
        monday + timedelta(days=7),
        [as_use(q, t) for q, t in quotes],
    )
    assert nxt.holder_cents == 150


def test_a_ten_entry_pass_is_consumed_entry_by_entry() -> None:
    t0 = local(2026, 12, 2, 10)
    taps = [("sports", "ten_entries", t0)]
    taps += [("sports", "entry", t0 + timedelta(days=i + 1)) for i in range(11)]
    quotes = replay(GIJON, NOBODY, taps)
    assert quotes[0][0].holder_cents == 3000
    assert [q.rule for q, _ in quotes[1:11]] == ["pass_entry"] * 10
    assert all(q.holder_cents == 0 for q, _ in quotes[1:11])
    assert (quotes[11][0].rule, quotes[11][0].holder_cents) == ("base", 350)


def test_a_pass_expires_after_its_valid_days() -> None:
    t0 = local(2026, 1, 5, 10)
    bought = quote(GIJON, NOBODY, "sports", "ten_entries", t0)
    later = quote(GIJON, NOBODY, "sports", "entry", t0 + timedelta(days=366), [as_use(bought, t0)])
    assert later.rule == "base"


def test_bike_share_first_30_minutes_free_then_per_started_30_minutes() -> None:
    at = local(2026, 12, 2, 10)
    costs = {m: quote(GIJON, NOBODY, "bike", "ride", at, quantity=m) for m in (0, 30, 31, 60, 61)}
    assert {m: q.holder_cents for m, q in costs.items()} == {0: 0, 30: 0, 31: 50, 60: 50, 61: 100}
    assert costs[30].rule == "free_units"


def test_parking_per_minute_with_a_maximum_stay() -> None:
    at = local(2026, 12, 2, 10)
    assert quote(GIJON, NOBODY, "parking", "minute", at, quantity=45).holder_cents == 90
    assert (
        quote(GIJON, adult("disability33"), "parking", "minute", at, quantity=45).holder_cents == 0
    )
    with pytest.raises(QuantityInvalid):
        quote(GIJON, NOBODY, "parking", "minute", at, quantity=121)
    with pytest.raises(QuantityInvalid):
        quote(GIJON, NOBODY, "bus", "single", at, quantity=2)


def test_named_errors_for_unknown_service_product_and_product_of_another_service() -> None:
    at = local(2026, 12, 2)
    with pytest.raises(ServiceUnknown) as e1:
        quote(GIJON, NOBODY, "tram", "single", at)
    with pytest.raises(ProductUnknown) as e2:
        quote(GIJON, NOBODY, "bus", "night_owl", at)
    with pytest.raises(ProductNotOfService) as e3:
        quote(GIJON, NOBODY, "bus", "ticket", at)
    codes = (e1.value.code, e2.value.code, e3.value.code)
    assert codes == ("service_unknown", "product_unknown", "product_not_of_service")


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        quote(GIJON, NOBODY, "bus", "single", datetime(2026, 12, 2, 8))


def test_rules_round_trip_through_json() -> None:
    again = FareRules.from_dict(json.loads(json.dumps(GIJON.to_dict())))
    assert again.to_dict() == GIJON.to_dict()
    assert again.version == "gijon-test"
    at = local(2026, 12, 2)
    assert quote(again, adult(), "theatre", "ticket", at) == quote(
        GIJON, adult(), "theatre", "ticket", at
    )


def _broken(change: Any) -> RulesInvalid:
    data = gijon_dict()
    change(data)
    with pytest.raises(RulesInvalid) as err:
        FareRules.from_dict(data)
    return err.value


def test_invalid_rules_name_the_offending_key() -> None:
    def negative(d: dict[str, Any]) -> None:
        d["services"]["bus"]["products"]["single"]["price_cents"] = -5

    def above_base(d: dict[str, Any]) -> None:
        d["services"]["bus"]["products"]["single"]["concessions"]["youth"] = 500

    def undeclared(d: dict[str, Any]) -> None:
        d["services"]["bus"]["products"]["single"]["concessions"]["student"] = 10

    def long_code(d: dict[str, Any]) -> None:
        d["categories"]["large_family_general"] = d["categories"].pop("largefam_general")

    def unquoted_time(d: dict[str, Any]) -> None:
        d["day_starts"] = 270

    def paying_identify(d: dict[str, Any]) -> None:
        d["services"]["library"]["products"]["loan"]["price_cents"] = 100

    assert _broken(negative).path == ("services", "bus", "products", "single", "price_cents")
    assert _broken(above_base).path[-1] == "youth"
    assert _broken(undeclared).path[-1] == "student"
    assert _broken(long_code).path == ("categories", "large_family_general")
    assert "HH:MM" in _broken(unquoted_time).reason
    assert _broken(paying_identify).path[-1] == "price_cents"


def test_uses_of_other_services_and_later_uses_are_ignored() -> None:
    at = local(2026, 12, 2, 8)
    noise = [Use("museums", "entry", at - timedelta(minutes=5), 300, 300, "base")]
    future = [Use("bus", "single", at + timedelta(minutes=5), 150, 150, "base")]
    assert quote(GIJON, NOBODY, "bus", "single", at, noise + future).rule == "base"
