"""Properties of the fee engine over arbitrary riders and sequences of uses (hypothesis)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from card_service.protocol.fees import Rider, Use, quote
from tests.fees.support import GIJON, MADRID, as_use, local, replay

START = local(2026, 11, 30, 0, 0)  # a Monday
PROOF = ("pension", "social", "unemployed", "largefam_general", "largefam_special", "disability33")

riders = st.builds(
    Rider,
    birth_date=st.none() | st.dates(min_value=date(1920, 1, 1), max_value=date(2026, 11, 1)),
    categories=st.frozensets(st.sampled_from(PROOF)),
)
offsets = st.lists(st.integers(min_value=0, max_value=14 * 24 * 60), min_size=1, max_size=60)
PRODUCTS = [(s, p) for s, svc in GIJON.services.items() for p in svc.products]


def _times(minutes: list[int]) -> list[datetime]:
    return [START + timedelta(minutes=m) for m in sorted(minutes)]


def _base(service: str, product: str, quantity: int) -> int:
    prod = GIJON.services[service].products[product]
    if prod.unit == "each":
        return prod.price_cents
    return max(0, -(-(quantity - prod.free_units) // prod.block)) * prod.price_cents


@settings(max_examples=300, deadline=None)
@given(
    rider=riders,
    pick=st.sampled_from(PRODUCTS),
    minutes=offsets,
    quantity=st.integers(min_value=0, max_value=120),
    history=st.lists(st.sampled_from(PRODUCTS), max_size=20),
)
def test_a_quote_never_exceeds_the_base_price_and_its_parts_add_up(
    rider: Rider,
    pick: tuple[str, str],
    minutes: list[int],
    quantity: int,
    history: list[tuple[str, str]],
) -> None:
    service, product = pick
    if GIJON.services[service].products[product].unit == "each":
        quantity = 1
    times = _times(minutes)
    recent: list[Use] = []
    for (s, p), t in zip(history, times[:-1], strict=False):
        unit = GIJON.services[s].products[p].unit
        q = quote(GIJON, rider, s, p, t, recent, quantity=1 if unit == "each" else 40)
        recent.append(as_use(q, t))
    q = quote(GIJON, rider, service, product, times[-1], recent, quantity=quantity)
    base = _base(service, product, quantity)
    assert 0 <= q.holder_cents <= q.price_cents <= base
    assert q.concession_cents >= 0
    assert q.holder_cents + q.concession_cents == q.price_cents
    assert (q.concession_category is None) == (q.concession_cents == 0)


def _service_day(at: datetime) -> date:
    return (at.astimezone(MADRID).replace(tzinfo=None) - timedelta(hours=4, minutes=30)).date()


@settings(max_examples=200, deadline=None)
@given(rider=riders, minutes=offsets)
def test_bus_caps_are_never_exceeded_in_any_day_or_week(rider: Rider, minutes: list[int]) -> None:
    quotes = replay(GIJON, rider, [("bus", "single", t) for t in _times(minutes)])
    per_day: dict[date, int] = defaultdict(int)
    per_week: dict[tuple[int, int], int] = defaultdict(int)
    for q, at in quotes:
        day = _service_day(at)
        per_day[day] += q.holder_cents
        per_week[day.isocalendar()[:2]] += q.holder_cents
    assert max(per_day.values()) <= 450
    assert max(per_week.values()) <= 1800


@settings(max_examples=200, deadline=None)
@given(rider=riders, minutes=st.lists(st.integers(0, 600), min_size=1, max_size=40))
def test_a_transfer_window_gives_at_most_the_free_rides_the_rules_allow(
    rider: Rider, minutes: list[int]
) -> None:
    quotes = replay(GIJON, rider, [("bus", "single", t) for t in _times(minutes)])
    first: datetime | None = None
    transfers = 0
    for q, at in quotes:
        if q.rule == "transfer":
            assert first is not None and at - first <= timedelta(minutes=45)
            transfers += 1
            assert transfers <= 1
            assert q.holder_cents == q.concession_cents == 0
        else:
            # A paid (or concession, or capped) ride after a window with a transfer left is not
            # a missed transfer: the engine always takes it when the window allows.
            if first is not None and at - first <= timedelta(minutes=45):
                assert transfers >= 1
            first, transfers = at, 0
