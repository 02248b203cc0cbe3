"""The fast path (services_api/fast_endpoints.py) and the FastAPI reference endpoints give the same
answers, the same errors and the same audit records, for every client's policy, on both databases.

Two apps share one database: the default (entitlement and quote on the fast path) and one with
``services_fast_path=False`` (everything through FastAPI). Each question goes to both; their
status, body, Retry-After and the audit record each leaves must be equal.
"""

from __future__ import annotations

import base64
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from card_service.db import make_engine
from tests.api.support import Desk, desk
from tests.conftest import _pg_admin, _pg_url, require
from tests.services_api.support import Client, city, register, service_events
from tests.services_api.test_policy_matrix import POLICIES

UNKNOWN_CARD = "9999000011112222"


def _questions(card: str, own: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, method and path, request keywords) of every case asked of every client."""
    ent = f"/cards/{card}/entitlements"
    quote = "/quotes"
    return [
        ("entitled senior", f"GET {ent}/senior", {}),
        ("entitled by proof", f"GET {ent}/pension", {}),
        ("entitled, unknown category", f"GET {ent}/astronaut", {}),
        ("entitled, unknown card", f"GET /cards/{UNKNOWN_CARD}/entitlements/senior", {}),
        ("entitled, no purpose", f"GET {ent}/senior", {"purpose": None}),
        ("entitled, purpose in query", f"GET {ent}/youth", {"purpose": None, "q": "why"}),
        ("quote own", f"POST {quote}", {"json": {"card": card, "product": own}}),
        ("quote two", f"POST {quote}", {"json": {"card": card, "product": own, "quantity": 2}}),
        ("quote foreign", f"POST {quote}", {"json": {"card": card, "product": "ticket"}}),
        ("quote unknown product", f"POST {quote}", {"json": {"card": card, "product": "zz"}}),
        ("quote unknown card", f"POST {quote}", {"json": {"card": UNKNOWN_CARD, "product": own}}),
        (
            "quote, purpose in body",
            f"POST {quote}",
            {"purpose": None, "json": {"card": card, "product": own, "purpose": "fare screen"}},
        ),
        ("quote, no purpose", f"POST {quote}", {"purpose": None, "json": {"card": card}}),
        ("quote, bad card", f"POST {quote}", {"json": {"card": "12ab", "product": own}}),
        ("quote, bad quantity", f"POST {quote}", {"json": {"card": card, "product": own, "quantity": 0}}),
        ("quote, not an object", f"POST {quote}", {"json": [card, own]}),
        ("quote, no body", f"POST {quote}", {}),
        ("wrong secret", f"GET {ent}/senior", {"secret": "not-the-secret"}),
        ("no authorization", f"GET {ent}/senior", {"auth": None}),
        ("malformed basic", f"GET {ent}/senior", {"auth": "Basic %%%"}),
        ("other scheme", f"POST {quote}", {"auth": "Digest x", "json": {"card": card}}),
    ]  # fmt: skip


def _ask(c: Client, d: Desk, what: str, kw: dict[str, Any]) -> Any:
    method, path = what.split(" ", 1)
    kw = dict(kw)
    headers: dict[str, str] = {}
    auth = kw.pop("auth", "basic")
    secret = kw.pop("secret", c.secret)
    if auth == "basic":
        raw = f"{c.client_id}:{secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    elif auth is not None:
        headers["Authorization"] = auth
    purpose = kw.pop("purpose", "same answers test")
    if purpose is not None:
        headers["Purpose"] = purpose
    params = [("purpose", "first"), ("purpose", kw.pop("q"))] if "q" in kw else None
    return d.client.request(method, "/v1/services" + path, headers=headers, params=params, **kw)


def _record(d: Desk, client_id: str, before: int) -> list[tuple[str, str, str, str]]:
    events = service_events(d, client_id)
    new = events[: len(events) - before]
    return [(e["action"], e["target"], e["outcome"], e["reason"]) for e in new]


def _asked(c: Client, d: Desk, trail: Desk, what: str, kw: dict[str, Any]) -> tuple[Any, Any]:
    """The answer to one question through ``d``, and the audit records it left (in ``trail``)."""
    before = len(service_events(trail, c.client_id))
    answer = _ask(c, d, what, kw)
    return answer, _record(trail, c.client_id, before)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def both(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    pg_template: str | None,
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("fastpath")
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
    with desk(url, tmp) as fast, desk(url, tmp, staff=False, services_fast_path=False) as ref:
        town = city(fast)
        clients = {n: register(fast, svc, policy) for n, (svc, policy) in POLICIES.items()}
        yield {"fast": fast, "ref": ref, "card": town["card"], "clients": clients, "url": url}
    if admin is not None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[union-attr]
        admin.close()  # type: ignore[union-attr]


def _fast_paths(d: Desk) -> set[tuple[str, str]]:
    from card_service.api.fast import FastRoutes

    found: set[tuple[str, str]] = set()
    for m in d.client.app.user_middleware:  # type: ignore[attr-defined]
        if m.cls is FastRoutes:
            found |= set(m.kwargs["exact"]) | {(p[0], p[1]) for p in m.kwargs["prefixes"]}
    return found


def test_one_app_serves_the_hot_questions_fast_and_the_other_does_not(
    both: dict[str, Any],
) -> None:
    hot = {("GET", "/v1/services/cards/"), ("POST", "/v1/services/quotes")}
    assert hot <= _fast_paths(both["fast"])
    assert not hot & _fast_paths(both["ref"])


@pytest.mark.parametrize("client", sorted(POLICIES))
def test_both_paths_give_the_same_answers_errors_and_records(
    both: dict[str, Any], client: str
) -> None:
    from tests.services_api.test_policy_matrix import OWN_PRODUCT

    c: Client = both["clients"][client]
    fast, ref = both["fast"], both["ref"]
    for name, what, kw in _questions(both["card"], OWN_PRODUCT[client]):
        a, a_records = _asked(c, fast, fast, what, kw)
        b, b_records = _asked(c, ref, fast, what, kw)
        assert (a.status_code, a.json()) == (b.status_code, b.json()), name
        assert a.headers.get("retry-after") == b.headers.get("retry-after"), name
        assert a_records == b_records, name
        assert len(a_records) <= 1, name


def test_a_bearer_session_is_refused_and_recorded_the_same(both: dict[str, Any]) -> None:
    fast, ref, card = both["fast"], both["ref"], both["card"]
    token = fast.citizen(card)
    for d in (fast, ref):
        r = d.client.get(f"/v1/services/cards/{card}/entitlements/senior", headers=token)
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), r.text


def test_rate_limit_rotation_and_disable_hold_on_the_fast_path(both: dict[str, Any]) -> None:
    fast, card = both["fast"], both["card"]
    c = register(fast, "bus", {"questions": ["entitlement"]}, rate_per_s=1, burst=2)
    path = f"/cards/{card}/entitlements/senior"
    assert [c.call("GET", path).status_code for _ in range(3)] == [200, 200, 429]
    r = c.call("GET", path)
    assert r.json()["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    r = fast.as_("admin", "POST", f"/v1/service-clients/{c.client_id}/rotation",
                 json={"grace_hours": 0})  # fmt: skip
    fast.as_("admin", "PUT", f"/v1/service-clients/{c.client_id}/policy",
             json={"policy": {"questions": ["entitlement"]}, "rate_per_s": 1000, "burst": 1000})  # fmt: skip
    old, new = c.secret, r.json()["secret"]
    assert c.call("GET", path, secret=old).json()["code"] == "client_unauthenticated"
    assert c.call("GET", path, secret=new).status_code == 200
    fast.as_("admin", "POST", f"/v1/service-clients/{c.client_id}/disable")
    assert c.call("GET", path, secret=new).json()["code"] == "client_disabled"


def test_no_answer_leaves_when_its_audit_record_cannot_be_written(
    both: dict[str, Any],
) -> None:
    """The database refuses audit rows (a trigger): the question gets 503, not an answer."""
    card = both["card"]
    c: Client = both["clients"]["bus"]
    engine = make_engine(both["url"])
    pg = engine.dialect.name == "postgresql"
    refuse = (
        [
            "CREATE FUNCTION refuse_audit() RETURNS trigger AS "
            "$$ BEGIN RAISE EXCEPTION 'audit refused by test'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ]
        if pg
        else [
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit refused by test'); END"
        ]
    )
    undo = (
        ["DROP TRIGGER refuse_audit ON audit_events", "DROP FUNCTION refuse_audit()"]
        if pg
        else ["DROP TRIGGER refuse_audit"]
    )
    try:
        with engine.begin() as conn:
            for sql in refuse:
                conn.execute(text(sql))
        r = c.call("GET", f"/cards/{card}/entitlements/senior")
        assert (r.status_code, r.json()["code"]) == (503, "audit_unavailable")
        r = c.call("POST", "/quotes", json={"card": card, "product": "single"})
        assert (r.status_code, r.json()["code"]) == (503, "audit_unavailable")
        assert "price_cents" not in r.text
    finally:
        with engine.begin() as conn:
            for sql in undo:
                conn.execute(text(sql))
        engine.dispose()
    assert c.call("GET", f"/cards/{card}/entitlements/senior").status_code == 200


def test_in_front_of_fastapi_the_fast_routes_answer_the_same(both: dict[str, Any]) -> None:
    """``before_fastapi`` (what the server may run): the same answers and records as the app
    with its fast routes inside; declined requests and other paths still reach FastAPI."""
    from fastapi.testclient import TestClient

    from card_service.api.app import create_app
    from card_service.api.fast import FastRoutes, before_fastapi
    from tests.services_api.test_policy_matrix import OWN_PRODUCT

    fast, card = both["fast"], both["card"]
    served = before_fastapi(create_app(fast.settings))
    assert isinstance(served, FastRoutes)
    c: Client = both["clients"]["bus"]
    with TestClient(served) as client:
        front = Desk(client, fast.settings)
        for name, what, kw in _questions(card, OWN_PRODUCT["bus"]):
            a, a_records = _asked(c, front, fast, what, kw)
            b, b_records = _asked(c, fast, fast, what, kw)
            assert (a.status_code, a.json()) == (b.status_code, b.json()), name
            assert a_records == b_records, name
        token = fast.citizen(card)
        r = client.get(f"/v1/services/cards/{card}/entitlements/senior", headers=token)
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), r.text
        assert client.get("/healthz").status_code == 200
