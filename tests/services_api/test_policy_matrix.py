"""Every service client asking every question gets exactly what its policy allows, and every
question (answered or refused) leaves one audit record with its purpose.

The expected answers are written out by hand below, one row per client and question.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.support import desk
from tests.conftest import _pg_admin, _pg_url, require
from tests.services_api.support import Client, city, register, service_events

POLICIES: dict[str, tuple[str, dict[str, Any] | None]] = {
    # client: (its service, its policy; None = the default, card_status only)
    "bus": ("bus", {"questions": ["card_status", "entitlement", "quote", "charge"]}),
    "library": ("library", None),
    "sports": (
        "sports",
        {
            "questions": ["card_status", "entitlement", "usage"],
            "fields": ["birth_date"],
            "categories": ["senior", "youth"],
        },
    ),
    "residence": (
        "residence",
        {"questions": ["card_status"], "fields": ["name", "address", "residence_status"]},
    ),
}
OWN_PRODUCT = {"bus": "single", "library": "loan", "sports": "entry", "residence": "certificate"}
FORBIDDEN = (403, {"code": "question_forbidden"})
NOT_OURS = (422, {"code": "product_not_of_service"})
CARD = "<card>"  # the senior's card number, filled in


def ask(c: Client, question: str, card: str, client: str) -> Any:
    own = OWN_PRODUCT[client]
    if question == "card_status":
        return c.call("GET", f"/cards/{card}")
    if question.startswith("entitled_"):
        return c.call("GET", f"/cards/{card}/entitlements/{question.removeprefix('entitled_')}")
    if question in ("quote_own", "quote_foreign"):
        product = own if question == "quote_own" else "ticket"  # the theatre's
        return c.call("POST", "/quotes", json={"card": card, "product": product})
    if question in ("charge_own", "charge_foreign"):
        product = own if question == "charge_own" else "ticket"
        body = {"id": f"{question}-{uuid.uuid4().hex}", "card": card, "product": product}
        return c.call("POST", "/charges", json=body)
    assert question == "usage"
    return c.call("GET", f"/cards/{card}/usage")


QUESTIONS = [
    "card_status",
    "entitled_senior",
    "entitled_pension",
    "quote_own",
    "quote_foreign",
    "charge_own",
    "charge_foreign",
    "usage",
]
EXPECTED: dict[tuple[str, str], tuple[int, Any]] = {
    ("bus", "card_status"): (200, {"card": CARD, "valid": True}),
    ("bus", "entitled_senior"): (200, {"card": CARD, "category": "senior", "entitled": True}),
    ("bus", "entitled_pension"): (200, {"card": CARD, "category": "pension", "entitled": False}),
    ("bus", "quote_own"): (
        200,
        {"card": CARD, "product": "single", "quantity": 1, "price_cents": 50},
    ),
    ("bus", "quote_foreign"): NOT_OURS,
    ("bus", "charge_own"): (
        201,
        {"card": CARD, "product": "single", "quantity": 1, "price_cents": 50, "status": "ok"},
    ),
    ("bus", "charge_foreign"): NOT_OURS,
    ("bus", "usage"): FORBIDDEN,
    ("library", "card_status"): (200, {"card": CARD, "valid": True}),
    ("sports", "card_status"): (200, {"card": CARD, "valid": True, "birth_date": "1954-03-08"}),
    ("sports", "entitled_senior"): (200, {"card": CARD, "category": "senior", "entitled": True}),
    ("sports", "entitled_pension"): FORBIDDEN,  # not a category its policy lists
    ("sports", "usage"): (200, []),  # the bus's charges are not the sports centre's business
    ("residence", "card_status"): (
        200,
        {
            "card": CARD,
            "valid": True,
            "name": "Covadonga Menéndez Suárez",
            "address": {
                "street": "Calle Corrida 1",
                "postcode": "33206",
                "city": "Gijón",
                "country": "ES",
            },
            "residence_status": "registered",
        },
    ),
}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    pg_template: str | None,
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("matrix")
    admin = None
    if request.param == "sqlite":
        shutil.copy(sqlite_template, tmp / "db.sqlite3")
        url = f"sqlite:///{tmp / 'db.sqlite3'}"
    else:
        require(pg_template is not None, "no PostgreSQL server answers")
        admin = _pg_admin()
        name = f"cs_t_{uuid.uuid4().hex[:12]}"
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')  # type: ignore[union-attr]
        url = _pg_url(name)
    with desk(url, tmp) as d:
        town = city(d)
        clients = {
            name: register(d, service, policy) for name, (service, policy) in POLICIES.items()
        }
        yield {"desk": d, "card": town["card"], "clients": clients}
    if admin is not None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[union-attr]
        admin.close()  # type: ignore[union-attr]


def _fill(expected: Any, card: str) -> Any:
    if isinstance(expected, dict):
        return {k: _fill(v, card) for k, v in expected.items()}
    if isinstance(expected, list):
        return [_fill(v, card) for v in expected]
    return card if expected == CARD else expected


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("client", sorted(POLICIES))
def test_each_client_gets_what_its_policy_allows(
    world: dict[str, Any], client: str, question: str
) -> None:
    c: Client = world["clients"][client]
    before = len(service_events(world["desk"], c.client_id))
    status, body = EXPECTED.get((client, question), FORBIDDEN)
    r = ask(c, question, world["card"], client)
    assert r.status_code == status, r.text
    got = r.json()
    want = _fill(body, world["card"])
    if status >= 400:
        assert got["code"] == want["code"]
    elif question == "charge_own":  # its own id and time vary
        assert {k: got[k] for k in want} == want
        assert set(got) == {*want, "id", "at", "refusal"} and got["refusal"] is None
    else:
        assert got == want  # exactly: no field the policy does not name
    events = service_events(world["desk"], c.client_id)
    assert len(events) == before + 1  # one record per question, answered or not
    assert events[0]["reason"].startswith("purpose: matrix test")
    assert events[0]["outcome"] == (
        "ok" if status < 400 else ("denied" if status == 403 else "failed")
    )
