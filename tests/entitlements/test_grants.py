"""Grants: evidence required, free fares need a second person (never the granter), grants expire
by themselves, revocation ends them but keeps the history; the rider the fee engine sees."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from card_service.audit.schemas import Actor
from card_service.catalogue import service as catalogue
from card_service.db import transaction
from card_service.entitlements import categories, service
from card_service.entitlements.errors import (
    CategoryUnknown,
    GrantAlreadyDecided,
    GrantEvidenceMissing,
    GrantExpired,
    GrantNotFound,
    GrantOverlaps,
    GrantPeriodInvalid,
    GrantSelfApproval,
)
from card_service.entitlements.riders import rider_for
from card_service.entitlements.schemas import GrantIn
from card_service.identity import service as holders
from card_service.identity.crypto import Keyring, keyring_for
from card_service.identity.schemas import EvidenceIn
from card_service.staff.roles import Role
from tests.charging.support import T0, Person, add_staff, load_catalogue, person

HOUR = timedelta(hours=1)


@pytest.fixture
def ring(tmp_path: Path) -> Keyring:
    return keyring_for(None, tmp_path / "pii-keyring.json")


@pytest.fixture
def staff(sessions: sessionmaker[Session]) -> tuple[Actor, Actor]:
    load_catalogue(sessions)
    return add_staff(sessions, "ana"), add_staff(sessions, "bea", Role.SUPERVISOR)


def evidence(
    sessions: sessionmaker[Session],
    ring: Keyring,
    clerk: Actor,
    p: Person,
    valid_until: datetime | None = None,
) -> int:
    with transaction(sessions) as s:
        body = EvidenceIn(doc_type="pension_award", number="P-123", valid_until=valid_until)
        return holders.add_evidence(s, ring, clerk, p.pseudonym, body).id


def make(
    sessions: sessionmaker[Session],
    clerk: Actor,
    p: Person,
    category: str,
    evidence_id: int,
    *,
    now: datetime = T0,
    days: int = 365,
    valid_from: datetime | None = None,
) -> int:
    with transaction(sessions) as s:
        cats = categories.of_rules(catalogue.in_force(s, now))
        body = GrantIn(
            category=category,
            evidence_id=evidence_id,
            valid_from=valid_from,
            valid_to=now + timedelta(days=days),
        )
        return service.create(s, clerk, p.pseudonym, body, cats, now=now).id


def cats_at(sessions: sessionmaker[Session], p: Person, at: datetime) -> frozenset[str]:
    with sessions() as s:
        return service.categories_at(s, p.holder_id, at)


def test_free_fare_categories_come_from_the_fare_rules(sessions: sessionmaker[Session]) -> None:
    load_catalogue(sessions)
    with sessions() as s:
        cats = categories.of_rules(catalogue.in_force(s, T0))
    assert "pension" in cats.free  # the bus is free on a non-contributory pension
    assert "largefam_general" in cats.known and "largefam_general" not in cats.free
    assert "senior" not in cats.known  # an age category: no grant, the birth date decides


def test_a_free_fare_grant_needs_a_second_person_and_never_the_granter(
    sessions: sessionmaker[Session], ring: Keyring, staff: tuple[Actor, Actor]
) -> None:
    ana, bea = staff
    p = person(sessions, ring, ana, date(1970, 1, 1))
    grant_id = make(sessions, ana, p, "pension", evidence(sessions, ring, ana, p))
    assert cats_at(sessions, p, T0 + HOUR) == frozenset()  # not yet: pending
    with transaction(sessions) as s, pytest.raises(GrantSelfApproval):
        service.approve(s, ana, grant_id, now=T0 + HOUR)
    with transaction(sessions) as s:
        service.approve(s, bea, grant_id, now=T0 + 2 * HOUR)
    assert cats_at(sessions, p, T0 + HOUR) == frozenset()  # not before the approval
    assert cats_at(sessions, p, T0 + 3 * HOUR) == {"pension"}
    with transaction(sessions) as s, pytest.raises(GrantAlreadyDecided):
        service.approve(s, bea, grant_id, now=T0 + 3 * HOUR)
    with sessions() as s:
        rider = rider_for(s, ring, holders.get(s, p.pseudonym), T0 + 3 * HOUR)
    assert rider.birth_date == date(1970, 1, 1) and rider.categories == {"pension"}


def test_a_reduced_fare_grant_applies_at_once(
    sessions: sessionmaker[Session], ring: Keyring, staff: tuple[Actor, Actor]
) -> None:
    ana, _ = staff
    p = person(sessions, ring, ana, date(1980, 1, 1))
    grant_id = make(sessions, ana, p, "largefam_general", evidence(sessions, ring, ana, p))
    assert cats_at(sessions, p, T0 + HOUR) == {"largefam_general"}
    with transaction(sessions) as s, pytest.raises(GrantAlreadyDecided):
        service.approve(s, ana, grant_id, now=T0 + HOUR)


def test_grants_expire_by_themselves(
    sessions: sessionmaker[Session], ring: Keyring, staff: tuple[Actor, Actor]
) -> None:
    ana, bea = staff
    p = person(sessions, ring, ana, date(1980, 1, 1))
    ev = evidence(sessions, ring, ana, p)
    reduced = make(sessions, ana, p, "unemployed", ev, days=30)
    with transaction(sessions) as s:
        service.approve(s, bea, reduced, now=T0)
    assert cats_at(sessions, p, T0 + timedelta(days=29)) == {"unemployed"}
    assert cats_at(sessions, p, T0 + timedelta(days=30)) == frozenset()
    free = make(sessions, ana, p, "pension", ev, days=1)
    with transaction(sessions) as s, pytest.raises(GrantExpired):
        service.approve(s, bea, free, now=T0 + timedelta(days=2))
    with transaction(sessions) as s, pytest.raises(GrantExpired):
        service.revoke(s, bea, reduced, "moved away", now=T0 + timedelta(days=31))
    with sessions() as s:
        statuses = {g.id: g.status for g in service.grants_of(s, p.pseudonym)}
    assert statuses == {reduced: "expired", free: "expired"}


def test_revocation_ends_a_grant_and_keeps_its_history(
    sessions: sessionmaker[Session], ring: Keyring, staff: tuple[Actor, Actor]
) -> None:
    ana, bea = staff
    p = person(sessions, ring, ana, date(1980, 1, 1))
    grant_id = make(sessions, ana, p, "disability33", evidence(sessions, ring, ana, p))
    with transaction(sessions) as s:
        service.approve(s, bea, grant_id, now=T0)
        service.revoke(s, ana, grant_id, "certificate withdrawn", now=T0 + 5 * HOUR)
    assert cats_at(sessions, p, T0 + 4 * HOUR) == {"disability33"}  # the past stays as it was
    assert cats_at(sessions, p, T0 + 6 * HOUR) == frozenset()
    with transaction(sessions) as s, pytest.raises(GrantAlreadyDecided):
        service.revoke(s, bea, grant_id, "again", now=T0 + 7 * HOUR)
    with sessions() as s:
        (g,) = service.grants_of(s, p.pseudonym)
    assert (g.status, g.granted_by, g.decided_by, g.revoked_by) == ("revoked", "ana", "bea", "ana")
    assert g.revoke_reason == "certificate withdrawn"
    # A new grant may follow the revoked one.
    make(sessions, ana, p, "disability33", evidence(sessions, ring, ana, p), now=T0 + 8 * HOUR)


def test_a_grant_needs_evidence_of_this_holder_a_known_category_and_a_sound_period(
    sessions: sessionmaker[Session], ring: Keyring, staff: tuple[Actor, Actor]
) -> None:
    ana, _ = staff
    p = person(sessions, ring, ana, date(1980, 1, 1))
    other = person(sessions, ring, ana, date(1981, 1, 1))
    own = evidence(sessions, ring, ana, p)
    with pytest.raises(GrantEvidenceMissing):
        make(sessions, ana, p, "social", evidence(sessions, ring, ana, other))
    with pytest.raises(GrantEvidenceMissing):
        make(sessions, ana, p, "social", 999_999)
    expired = evidence(sessions, ring, ana, p, valid_until=T0 - HOUR)
    with pytest.raises(GrantEvidenceMissing):
        make(sessions, ana, p, "social", expired)
    short = evidence(sessions, ring, ana, p, valid_until=T0 + timedelta(days=10))
    with pytest.raises(GrantPeriodInvalid):
        make(sessions, ana, p, "social", short, days=20)  # cannot outlast its evidence
    with pytest.raises(CategoryUnknown):
        make(sessions, ana, p, "mayor", own)
    with pytest.raises(CategoryUnknown):
        make(sessions, ana, p, "senior", own)  # age categories are not granted
    with pytest.raises(GrantPeriodInvalid):
        make(sessions, ana, p, "social", own, valid_from=T0 - timedelta(days=3))
    make(sessions, ana, p, "social", own)
    with pytest.raises(GrantOverlaps):
        make(sessions, ana, p, "social", own, now=T0 + HOUR)
    with transaction(sessions) as s, pytest.raises(GrantNotFound):
        service.approve(s, ana, 424242, now=T0)


def test_a_rejected_grant_never_applies(
    sessions: sessionmaker[Session], ring: Keyring, staff: tuple[Actor, Actor]
) -> None:
    ana, bea = staff
    p = person(sessions, ring, ana, date(1980, 1, 1))
    grant_id = make(sessions, ana, p, "pension", evidence(sessions, ring, ana, p))
    with sessions() as s:
        assert [g.id for g in service.pending(s)] == [grant_id]
    with transaction(sessions) as s:
        service.reject(s, bea, grant_id, "the award letter is not the holder's", now=T0 + HOUR)
    with sessions() as s:
        assert service.pending(s) == []
    assert cats_at(sessions, p, T0 + 2 * HOUR) == frozenset()
    with transaction(sessions) as s, pytest.raises(GrantAlreadyDecided):
        service.approve(s, bea, grant_id, now=T0 + 2 * HOUR)


def test_times_in_other_offsets_are_the_same_moments(
    sessions: sessionmaker[Session], ring: Keyring, staff: tuple[Actor, Actor]
) -> None:
    """SQLite keeps no offset: a grant dated in another offset must still start when it says."""
    ana, _ = staff
    p = person(sessions, ring, ana, date(1980, 1, 1))
    from zoneinfo import ZoneInfo

    start = (T0 + 3 * HOUR).astimezone(ZoneInfo("Asia/Tokyo"))
    make(sessions, ana, p, "largefam_general", evidence(sessions, ring, ana, p), valid_from=start)
    assert cats_at(sessions, p, T0 + 2 * HOUR) == frozenset()
    assert cats_at(sessions, p, (T0 + 4 * HOUR).astimezone(UTC)) == {"largefam_general"}
