"""Charging: linked transfers, full-price revenue, concession budgets, idempotency, recent uses."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from card_service.audit.schemas import Actor
from card_service.catalogue.errors import ProductNotOfService
from card_service.charging import service as charging
from card_service.charging.errors import CardNotValid, ChargeIdReused
from card_service.charging.models import Charge
from card_service.db import make_engine, make_sessionmaker
from card_service.identity.crypto import Keyring, keyring_for
from card_service.ledger.models import Transfer
from card_service.ledger.schemas import TransferFlags
from card_service.staff.roles import Role, aware
from tests.charging.support import (
    T0,
    Person,
    add_staff,
    as_dict,
    balance_of,
    charge,
    grant,
    load_catalogue,
    person,
    purse,
    topup,
)


@pytest.fixture
def ring(tmp_path: Path) -> Keyring:
    return keyring_for(None, tmp_path / "pii-keyring.json")


@dataclass
class City:
    clerk: Actor
    approver: Actor


@pytest.fixture
def city(sessions: sessionmaker[Session]) -> City:
    load_catalogue(sessions)
    return City(add_staff(sessions, "clerk"), add_staff(sessions, "approver", Role.SUPERVISOR))


def test_a_concession_fare_is_two_linked_transfers_and_revenue_sees_the_full_price(
    sessions: sessionmaker[Session], ring: Keyring, city: City
) -> None:
    senior = person(sessions, ring, city.clerk, date(1950, 5, 1), topup_cents=1000)
    out = charging_at(sessions, ring, senior, "bus", "single", 0)
    assert as_dict(out) == {
        "status": "ok",
        "price": 150,
        "holder": 50,
        "concession": 100,
        "category": "senior",
        "rule": "concession",
    }
    assert purse(sessions, senior) == 950
    assert balance_of(sessions, "revenue:bus") == 150  # the service sees the full fare
    assert balance_of(sessions, "concession:senior") == -100  # the city's subsidy
    with sessions() as s:
        c = s.get(Charge, out.charge.id)
        assert c is not None
        first = s.get(Transfer, c.holder_transfer_id)
        second = s.get(Transfer, c.concession_transfer_id)
        assert first is not None and second is not None
        assert first.flags & TransferFlags.LINKED  # one all-or-nothing chain
        assert not second.flags & TransferFlags.LINKED
        assert first.amount_cents + second.amount_cents == c.price_cents


def charging_at(
    sessions: sessionmaker[Session],
    ring: Keyring,
    p: Person,
    service: str,
    product: str,
    minutes: int,
    **kw: object,
) -> charging.Outcome:
    at = T0 + timedelta(minutes=minutes)
    return charge(sessions, ring, p, service, product, at, **kw)  # type: ignore[arg-type]


def test_same_charge_id_twice_charges_once(
    sessions: sessionmaker[Session], ring: Keyring, city: City
) -> None:
    adult = person(sessions, ring, city.clerk, date(1980, 1, 1), topup_cents=1000)
    first = charging_at(sessions, ring, adult, "museums", "entry", 0, ref="m-1")
    again = charging_at(sessions, ring, adult, "museums", "entry", 5, ref="m-1")
    assert not first.replayed and again.replayed
    assert again.charge.id == first.charge.id
    assert aware(again.charge.at) == aware(first.charge.at) == T0
    assert purse(sessions, adult) == 700
    assert balance_of(sessions, "revenue:museums") == 300
    with pytest.raises(ChargeIdReused):
        charging_at(sessions, ring, adult, "bus", "single", 6, ref="m-1")
    # Another caller's ids are its own: the same text is another charge.
    other = charging_at(sessions, ring, adult, "museums", "entry", 7, ref="m-1", channel="other")
    assert not other.replayed and purse(sessions, adult) == 400


def test_a_refused_charge_stays_refused_for_its_id(
    sessions: sessionmaker[Session], ring: Keyring, city: City
) -> None:
    adult = person(sessions, ring, city.clerk, date(1980, 1, 1), topup_cents=100)
    refused = charging_at(sessions, ring, adult, "bus", "single", 0, ref="b-1")
    assert refused.charge.status == "refused" and refused.charge.refusal == "insufficient_funds"
    assert purse(sessions, adult) == 100 and balance_of(sessions, "revenue:bus") == 0
    topup(sessions, adult, 1000)
    retried = charging_at(sessions, ring, adult, "bus", "single", 1, ref="b-1")
    assert retried.replayed and retried.charge.status == "refused"
    fresh = charging_at(sessions, ring, adult, "bus", "single", 2, ref="b-2")
    assert fresh.ok and purse(sessions, adult) == 950


def test_recent_uses_give_the_transfer_and_the_daily_cap(
    sessions: sessionmaker[Session], ring: Keyring, city: City
) -> None:
    adult = person(sessions, ring, city.clerk, date(1980, 1, 1), topup_cents=2000)
    rules = [charging_at(sessions, ring, adult, "bus", "single", m).charge for m in (0, 30)]
    assert [(c.rule, c.holder_cents) for c in rules] == [("base", 150), ("transfer", 0)]
    later = [charging_at(sessions, ring, adult, "bus", "single", m).charge for m in (90, 180, 270)]
    # 150 + 0 + 150 + 150 = 450: the day's cap; the fifth ride costs the holder nothing.
    assert [(c.rule, c.holder_cents) for c in later] == [
        ("base", 150),
        ("base", 150),
        ("cap_day", 0),
    ]
    assert purse(sessions, adult) == 2000 - 450
    assert balance_of(sessions, "revenue:bus") == 450


def test_pension_rides_free_only_once_approved(
    sessions: sessionmaker[Session], ring: Keyring, city: City
) -> None:
    p = person(sessions, ring, city.clerk, date(1970, 1, 1), topup_cents=500)
    grant(sessions, ring, city.clerk, city.approver, p, "pension")
    out = charging_at(sessions, ring, p, "bus", "single", 10)
    assert as_dict(out)["holder"] == 0 and as_dict(out)["category"] == "pension"
    assert balance_of(sessions, "concession:pension") == -150
    assert balance_of(sessions, "revenue:bus") == 150 and purse(sessions, p) == 500
    assert out.charge.holder_transfer_id is None  # nothing moves from the purse


def test_a_service_cannot_charge_another_services_product_nor_an_invalid_card(
    sessions: sessionmaker[Session], ring: Keyring, city: City
) -> None:
    adult = person(sessions, ring, city.clerk, date(1980, 1, 1), topup_cents=500)
    with pytest.raises(ProductNotOfService):
        charging_at(sessions, ring, adult, "bus", "ticket", 0)
    from card_service.cards import service as cards
    from card_service.db import transaction

    with transaction(sessions) as s:
        cards.block(s, city.clerk, adult.card, "lost")
    with pytest.raises(CardNotValid):
        charging_at(sessions, ring, adult, "bus", "single", 1)
    assert purse(sessions, adult) == 500


def test_concurrent_retries_of_one_charge_charge_once(pg_url: str, tmp_path: Path) -> None:
    engine = make_engine(pg_url)
    factory = make_sessionmaker(engine)
    ring = keyring_for(None, tmp_path / "pii-keyring.json")
    load_catalogue(factory)
    clerk = add_staff(factory, "clerk")
    adult = person(factory, ring, clerk, date(1980, 1, 1), topup_cents=5000)
    answers: list[uuid.UUID] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        for _ in range(3):  # what the endpoint does: retry a lost race
            try:
                out = charge(factory, ring, adult, "theatre", "ticket", T0, ref="same")
                answers.append(out.charge.id)
                return
            except Exception as exc:  # ConcurrentWrite / IntegrityError: retry
                last = exc
        errors.append(last)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(answers)) == 1 and len(answers) == 8
    assert purse(factory, adult) == 5000 - 1500
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Charge)) == 1
    engine.dispose()
