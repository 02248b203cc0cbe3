"""Over random sequences of uses: what the citizen pays plus what the concession pays is the
price, for every charge; the ledger's revenue, budgets and purses agree with the charges; the
finance report agrees with the ledger."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from card_service.charging.report import daily
from card_service.identity.crypto import Keyring, keyring_for
from card_service.staff.roles import Role
from tests.charging.support import (
    MADRID,
    T0,
    add_staff,
    balance_of,
    charge,
    grant,
    load_catalogue,
    person,
    purse,
    topup,
)

USES = [
    ("bus", "single", 1),
    ("museums", "entry", 1),
    ("sports", "entry", 1),
    ("sports", "ten_entries", 1),
    ("theatre", "ticket", 1),
    ("parking", "minute", 45),
    ("bike", "ride", 75),
    ("bike", "annual", 1),
    ("courses", "enrolment", 1),
    ("toilets", "entry", 1),
    ("library", "loan", 1),
]
RIDERS = {
    "adult": (date(1985, 4, 2), None),
    "senior": (date(1948, 9, 30), None),
    "youth": (date(2005, 1, 15), None),
    "child": (date(2018, 6, 1), None),
    "pension": (date(1975, 2, 2), "pension"),
    "largefam": (date(1979, 3, 3), "largefam_general"),
    "disability": (date(1990, 7, 7), "disability33"),
}

uses = st.lists(
    st.tuples(
        st.sampled_from(sorted(RIDERS)),
        st.integers(0, len(USES) - 1),
        st.integers(0, 600),  # minutes after the previous use
        st.booleans(),  # a top-up first
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def ring(tmp_path: Path) -> Keyring:
    return keyring_for(None, tmp_path / "pii-keyring.json")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=uses)
def test_parts_add_up_and_the_books_agree(
    sequence: list[tuple[str, int, int, bool]],
    sessions: sessionmaker[Session],
    ring: Keyring,
) -> None:
    with sessions() as s:
        fresh = s.get_bind().url.database  # one database per test, many examples
    if not _ready.get(fresh):
        load_catalogue(sessions)
        _ready[fresh] = (add_staff(sessions, "clerk"), add_staff(sessions, "sup", Role.SUPERVISOR))
    clerk, supervisor = _ready[fresh]
    people = {}
    for name, (born, category) in RIDERS.items():
        people[name] = person(sessions, ring, clerk, born, topup_cents=3000)
        if category:
            grant(sessions, ring, clerk, supervisor, people[name], category)
    services = {svc for svc, _, _ in USES}
    categories = {"senior", "youth", "child", "pension", "largefam_general", "disability33"}
    before = {svc: balance_of(sessions, f"revenue:{svc}") for svc in services}
    budgets = {c: balance_of(sessions, f"concession:{c}") for c in categories}
    reported = _report(sessions)
    paid: Counter[str] = Counter()
    revenue: Counter[str] = Counter()
    cost: Counter[str] = Counter()
    at = T0
    for rider, which, gap, top_up_first in sequence:
        service, product, quantity = USES[which]
        at += timedelta(minutes=gap)
        if top_up_first:
            topup(sessions, people[rider], 500)
            paid[rider] -= 500
        c = charge(sessions, ring, people[rider], service, product, at, quantity=quantity).charge
        assert c.holder_cents + c.concession_cents == c.price_cents
        assert c.holder_cents >= 0 and c.concession_cents >= 0
        assert (c.concession_category is None) == (c.concession_cents == 0)
        if c.status == "ok":
            paid[rider] += c.holder_cents
            revenue[service] += c.price_cents
            if c.concession_category:
                cost[c.concession_category] += c.concession_cents
    for name, p in people.items():
        assert purse(sessions, p) == 3000 - paid[name]
    for svc in services:
        assert balance_of(sessions, f"revenue:{svc}") - before[svc] == revenue[svc]
    for cat in categories:
        assert budgets[cat] - balance_of(sessions, f"concession:{cat}") == cost[cat]
    after = _report(sessions)
    for svc in services:
        assert after["revenue"][svc] - reported["revenue"][svc] == revenue[svc]
    for cat in categories:
        assert after["cost"][cat] - reported["cost"][cat] == cost[cat]


_ready: dict[object, tuple[object, object]] = {}


def _report(sessions: sessionmaker[Session]) -> dict[str, Counter[str]]:
    """Totals of the finance report over the days the sequences can reach."""
    revenue: Counter[str] = Counter()
    cost: Counter[str] = Counter()
    first = T0.astimezone(MADRID).date()
    with sessions() as s:
        for offset in range(12):
            for row in daily(s, first + timedelta(days=offset)):
                revenue[row.service] += row.revenue_cents
                for c in row.concessions:
                    cost[c.category] += c.cost_cents
    return {"revenue": revenue, "cost": cost}
