"""Loading catalogue versions: validated whole, versioned, never retroactive (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from card_service.audit.schemas import Actor
from card_service.catalogue import service
from card_service.catalogue.errors import (
    CatalogueInvalid,
    CatalogueNotLoaded,
    EffectiveFromPast,
    ProductNotOfService,
    ProductUnknown,
    ServiceUnknown,
)
from card_service.db import transaction
from tests.fees.support import GIJON_FILE, NOBODY

CLERK = Actor("staff", "ana.supervisor", "supervisor")
DEMO = GIJON_FILE.read_text(encoding="utf-8")
# The moment each test loads at ("now" for the service), and NOW a minute later: fixed, so a
# slow suite cannot overtake it.
LOADED_AT = datetime.now(UTC).replace(microsecond=0)
NOW = LOADED_AT + timedelta(minutes=1)


def bus_fare(cents: int) -> str:
    changed = DEMO.replace("price_cents: 150\n", f"price_cents: {cents}\n", 1)
    assert changed != DEMO
    return changed


def _load(sessions: sessionmaker[Session], body: str, at: datetime) -> service.VersionInfo:
    with transaction(sessions) as s:
        return service.load(s, body, at, CLERK, now=LOADED_AT)


def _bus(sessions: sessionmaker[Session], at: datetime) -> int:
    with transaction(sessions) as s:
        return service.quote(s, NOBODY, "bus", "single", at).holder_cents


def test_a_price_change_takes_effect_at_its_stated_time(sessions: sessionmaker[Session]) -> None:
    first = _load(sessions, DEMO, NOW)
    second = _load(sessions, bus_fare(160), NOW + timedelta(hours=1))
    assert first.version != second.version and second.created
    assert _bus(sessions, NOW + timedelta(minutes=30)) == 150
    assert _bus(sessions, NOW + timedelta(hours=1)) == 160
    assert _bus(sessions, NOW + timedelta(days=30)) == 160
    with transaction(sessions) as s, pytest.raises(CatalogueNotLoaded):
        service.in_force(s, NOW - timedelta(seconds=1))
    with transaction(sessions) as s:
        listed = service.versions(s)
        events = s.execute(text("SELECT actor, action FROM audit_events")).all()
    assert [(v.version, v.effective_from, v.loaded_by) for v in listed] == [
        (first.version, NOW, "ana.supervisor"),
        (second.version, NOW + timedelta(hours=1), "ana.supervisor"),
    ]
    assert [tuple(e) for e in events].count(("ana.supervisor", "catalogue.load")) == 2


def test_effective_from_in_the_past_is_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(EffectiveFromPast) as err:
        _load(sessions, DEMO, LOADED_AT - timedelta(minutes=5))
    assert err.value.code == "effective_from_past"
    with pytest.raises(EffectiveFromPast):
        _load(sessions, DEMO, datetime(2030, 1, 1))  # naive: refused, no guessing of zones


def test_the_same_file_for_the_same_moment_is_loaded_once(sessions: sessionmaker[Session]) -> None:
    first = _load(sessions, DEMO, NOW)
    again = _load(sessions, DEMO, NOW)
    assert (again.id, again.created) == (first.id, False)
    with transaction(sessions) as s:
        assert len(service.versions(s)) == 1


def _refused(sessions: sessionmaker[Session], body: str) -> CatalogueInvalid:
    with pytest.raises(CatalogueInvalid) as err:
        _load(sessions, body, NOW + timedelta(hours=1))
    return err.value


def _line_of(body: str, needle: str) -> int:
    return next(i for i, line in enumerate(body.splitlines(), 1) if needle in line)


def test_a_malformed_file_is_refused_whole_with_its_line(sessions: sessionmaker[Session]) -> None:
    _load(sessions, DEMO, NOW)
    negative = DEMO.replace("price_cents: 300\n", "price_cents: -300\n")
    err = _refused(sessions, negative)
    assert err.line == _line_of(negative, "price_cents: -300")
    assert "museums" in err.reason and "between 0" in err.reason
    assert err.code == "catalogue_invalid" and f"line {err.line}" in err.detail

    unknown = DEMO.replace("    kind: identify\n", "    kind: identify\n    colour: blue\n", 1)
    assert _refused(sessions, unknown).line == _line_of(unknown, "colour: blue")

    dup = DEMO.replace("  wifi:\n", "  bus:\n    kind: both\n  wifi:\n")
    err = _refused(sessions, dup)
    assert "duplicate key 'bus'" in err.reason
    assert err.line == len(DEMO.split("  wifi:\n")[0].splitlines()) + 1

    broken = DEMO.replace("names: {es: Bibliotecas,", "names: {es: [Bibliotecas,")
    assert _refused(sessions, broken).line == _line_of(broken, "[Bibliotecas")

    unquoted = DEMO.replace('day_starts: "04:30"', "day_starts: 14:30")
    err = _refused(sessions, unquoted)
    assert err.line == _line_of(unquoted, "day_starts") and "HH:MM" in err.reason

    # Nothing of any of them was stored: the demo catalogue stays the only one, in force.
    with transaction(sessions) as s:
        assert len(service.versions(s)) == 1
    assert _bus(sessions, NOW + timedelta(hours=2)) == 150


def test_named_errors_for_services_and_products(sessions: sessionmaker[Session]) -> None:
    _load(sessions, DEMO, NOW)
    with transaction(sessions) as s:
        cases = [("tram", "single"), ("bus", "night_owl"), ("bus", "ticket")]
        codes = []
        for svc, prod in cases:
            with pytest.raises((ServiceUnknown, ProductUnknown, ProductNotOfService)) as err:
                service.quote(s, NOBODY, svc, prod, NOW)
            codes.append(err.value.code)
        rules = service.in_force(s, NOW)
        with pytest.raises(ProductNotOfService):
            service.product(rules, "library", "single")
        assert service.product(rules, "bus", "single").price_cents == 150
    assert codes == ["service_unknown", "product_unknown", "product_not_of_service"]


def test_versions_are_append_only(sessions: sessionmaker[Session]) -> None:
    _load(sessions, DEMO, NOW)
    with pytest.raises(DBAPIError, match="append_only"), transaction(sessions) as s:
        s.execute(text("UPDATE catalogue_versions SET effective_from = effective_from"))
    with pytest.raises(DBAPIError, match="append_only"), transaction(sessions) as s:
        s.execute(text("DELETE FROM catalogue_versions"))


def test_the_parsed_rules_are_cached_and_survive_a_fresh_process(
    sessions: sessionmaker[Session],
) -> None:
    _load(sessions, DEMO, NOW)
    with transaction(sessions) as s:
        one = service.in_force(s, NOW)
        assert service.in_force(s, NOW + timedelta(hours=5)) is one
    service._cache.clear()  # as a new process would start
    with transaction(sessions) as s:
        fresh = service.in_force(s, NOW)
    assert fresh is not one and fresh.to_dict() == one.to_dict()
    assert len(fresh.services) == 20
