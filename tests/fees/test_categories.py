"""Who gets which price: every category, birthdays at local midnight, the leap-day choice."""

from __future__ import annotations

from datetime import date

import pytest

from card_service.protocol.fees import Rider, age_on, categories_at, quote
from tests.fees.support import GIJON, NOBODY, adult, local

AT = local(2026, 12, 2, 9)


@pytest.mark.parametrize(
    ("rider", "holder", "category"),
    [
        (NOBODY, 150, None),
        (adult(), 150, None),
        (Rider(date(2016, 1, 1), frozenset()), 0, "child"),
        (Rider(date(2005, 1, 1), frozenset()), 75, "youth"),
        (Rider(date(1950, 1, 1), frozenset()), 50, "senior"),
        (adult("pension"), 0, "pension"),
        (adult("social"), 40, "social"),
        (adult("largefam_general"), 120, "largefam_general"),
        (adult("largefam_special"), 75, "largefam_special"),
        (adult("disability33"), 50, "disability33"),
        (adult("unemployed"), 150, None),  # no bus concession for the unemployed
    ],
)
def test_each_category_on_the_bus(rider: Rider, holder: int, category: str | None) -> None:
    q = quote(GIJON, rider, "bus", "single", AT)
    assert (q.price_cents, q.holder_cents, q.concession_category) == (150, holder, category)
    assert q.concession_cents == 150 - holder
    assert q.rule == ("base" if category is None else "concession")


def test_best_price_wins_among_several_categories() -> None:
    young_social = Rider(date(2004, 3, 3), frozenset({"social", "largefam_general"}))
    q = quote(GIJON, young_social, "bus", "single", AT)
    assert (q.holder_cents, q.concession_category) == (40, "social")
    senior_pension = Rider(date(1950, 1, 1), frozenset({"pension"}))
    assert quote(GIJON, senior_pension, "bus", "single", AT).concession_category == "pension"


def test_unemployed_get_the_bike_share_social_pass_free() -> None:
    q = quote(GIJON, adult("unemployed"), "bike", "annual", AT)
    assert (q.holder_cents, q.concession_cents, q.concession_category) == (0, 2000, "unemployed")


def test_unknown_proof_codes_are_ignored() -> None:
    assert quote(GIJON, adult("martian"), "bus", "single", AT).holder_cents == 150


def test_category_codes_fit_the_holder_certificate() -> None:
    for code in GIJON.categories:
        assert code.isascii() and 1 <= len(code) <= 16


def test_thirteenth_birthday_starts_at_local_midnight() -> None:
    rider = Rider(date(2013, 12, 2), frozenset())
    # 23:59 on 1 December in Madrid is 22:59 UTC: still twelve, free.
    assert quote(GIJON, rider, "bus", "single", local(2026, 12, 1, 23, 59)).holder_cents == 0
    # 00:00 local on the birthday (still 1 December in UTC): thirteen, youth fare.
    q = quote(GIJON, rider, "bus", "single", local(2026, 12, 2, 0, 0))
    assert (q.holder_cents, q.concession_category) == (75, "youth")


def test_senior_from_the_65th_birthday_and_youth_until_the_26th() -> None:
    assert "senior" not in categories_at(GIJON, Rider(date(1961, 12, 3), frozenset()), AT)
    assert "senior" in categories_at(GIJON, Rider(date(1961, 12, 2), frozenset()), AT)
    assert "youth" in categories_at(GIJON, Rider(date(2000, 12, 3), frozenset()), AT)
    assert "youth" not in categories_at(GIJON, Rider(date(2000, 12, 2), frozenset()), AT)


def test_born_on_29_february_has_the_birthday_on_1_march_in_common_years() -> None:
    leapling = date(2012, 2, 29)
    assert age_on(leapling, date(2025, 2, 28)) == 12
    assert age_on(leapling, date(2025, 3, 1)) == 13
    assert age_on(leapling, date(2028, 2, 29)) == 16  # a leap year: on the day itself
    rider = Rider(leapling, frozenset())
    assert quote(GIJON, rider, "bus", "single", local(2025, 2, 28, 23, 59)).holder_cents == 0
    assert quote(GIJON, rider, "bus", "single", local(2025, 3, 1, 0, 0)).holder_cents == 75


def test_identification_only_services_charge_nothing() -> None:
    for code, service in GIJON.services.items():
        if service.kind == "identify":
            for product in service.products:
                q = quote(GIJON, adult(), code, product, AT)
                assert (q.price_cents, q.holder_cents) == (0, 0)
