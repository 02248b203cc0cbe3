"""Service clients over HTTP: secrets and their rotation, disabling, rate limits, purposes,
idempotent charges, usage and charges seen only by their own service; the CLI."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from typer.testing import CliRunner

from card_service.cli import app
from card_service.config import get_settings
from card_service.services_api import credentials
from tests.api.support import desk
from tests.services_api.support import city, register, service_events


def test_rotation_keeps_the_old_secret_for_the_grace_period_then_only_the_new(
    db_url: str, tmp_path: Path
) -> None:
    with desk(db_url, tmp_path) as d:
        town = city(d)
        c = register(d, "bus")
        path = f"/cards/{town['card']}"
        assert c.call("GET", path).json() == {"card": town["card"], "valid": True}
        wrong = c.call("GET", path, secret="not-the-secret")
        assert (wrong.status_code, wrong.json()["code"]) == (401, "client_unauthenticated")
        first = c.secret
        r = d.as_("admin", "POST", f"/v1/service-clients/{c.client_id}/rotation", json={})
        assert r.status_code == 200 and r.json()["previous_secret_valid_until"] is not None
        second = r.json()["secret"]
        assert c.call("GET", path, secret=first).status_code == 200  # grace period
        assert c.call("GET", path, secret=second).status_code == 200
        r = d.as_(
            "admin",
            "POST",
            f"/v1/service-clients/{c.client_id}/rotation",
            json={"grace_hours": 0},
        )
        third = r.json()["secret"]
        assert c.call("GET", path, secret=first).status_code == 401
        assert c.call("GET", path, secret=second).status_code == 401  # no grace asked
        assert c.call("GET", path, secret=third).status_code == 200
        r = d.as_("admin", "POST", f"/v1/service-clients/{c.client_id}/disable")
        assert r.json()["active"] is False
        off = c.call("GET", path, secret=third)
        assert (off.status_code, off.json()["code"]) == (403, "client_disabled")
        d.as_("admin", "POST", f"/v1/service-clients/{c.client_id}/enable")
        assert c.call("GET", path, secret=third).status_code == 200
        actions = [e["action"] for e in d.audit(target=f"service_client:{c.client_id}")]
        assert actions[:4] == [
            "service_client.enable",
            "service_client.disable",
            "service_client.rotate",
            "service_client.rotate",
        ]


def test_a_secret_is_checked_with_argon2_once_per_process(
    sqlite_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    calls = []

    class Counting(PasswordHasher):
        """The real argon2 hasher, counting its verifications."""

        def verify(self, stored: str | bytes, secret: str | bytes) -> Literal[True]:
            calls.append(secret)
            return super().verify(stored, secret)

    monkeypatch.setattr(credentials, "hasher", Counting())
    with desk(sqlite_url, tmp_path) as d:
        town = city(d)
        c = register(d, "bus")
        for _ in range(20):
            assert c.call("GET", f"/cards/{town['card']}").status_code == 200
        assert calls == [c.secret]
        for _ in range(3):
            assert c.call("GET", f"/cards/{town['card']}", secret="guess").status_code == 401
        assert len(calls) == 4  # a wrong secret is never remembered: each costs a check


def test_rate_limit_answers_429_with_retry_after(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        town = city(d)
        c = register(d, "bus", rate_per_s=1, burst=3)
        answers = [c.call("GET", f"/cards/{town['card']}") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert answers[3].json()["code"] == "rate_limited"
        assert int(answers[3].headers["Retry-After"]) >= 1
        time.sleep(1.1)
        assert c.call("GET", f"/cards/{town['card']}").status_code == 200
        # Another client has its own bucket.
        assert register(d, "museums").call("GET", f"/cards/{town['card']}").status_code == 200


def test_no_purpose_no_answer_and_the_refusal_is_recorded(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        town = city(d)
        c = register(d, "bus", {"questions": ["card_status", "quote"]})
        r = c.call("GET", f"/cards/{town['card']}", purpose=None)
        assert (r.status_code, r.json()["code"]) == (422, "purpose_required")
        r = c.call("GET", f"/cards/{town['card']}?purpose=ticket+inspection", purpose=None)
        assert r.status_code == 200
        body = {"card": town["card"], "product": "single", "purpose": "fare display"}
        assert c.call("POST", "/quotes", json=body, purpose=None).status_code == 200
        events = service_events(d, c.client_id)
        assert [(e["outcome"], e["reason"]) for e in reversed(events)] == [
            ("denied", "purpose: -; no purpose stated"),
            ("ok", "purpose: ticket inspection"),
            ("ok", "purpose: fare display; bus.single"),
        ]
        assert all(e["target"] == f"card:{town['card']}" for e in events)


def test_charges_are_idempotent_and_refusals_stay_refused(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        town = city(d)  # 20 EUR on the purse
        theatre = register(d, "theatre", {"questions": ["charge", "quote"]})
        body = {"id": "t-1", "card": town["card"], "product": "ticket"}
        first = theatre.call("POST", "/charges", json=body)
        again = theatre.call("POST", "/charges", json=body)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json() == again.json() and first.json()["price_cents"] == 1000  # senior
        other = theatre.call("POST", "/charges", json=body | {"id": "t-2"})
        assert other.status_code == 201
        reused = theatre.call("POST", "/charges", json=body | {"card": "9724000000000001"})
        assert (reused.status_code, reused.json()["code"]) == (409, "charge_id_reused")
        broke = theatre.call("POST", "/charges", json=body | {"id": "t-3"})
        assert (broke.status_code, broke.json()["code"]) == (409, "insufficient_funds")
        assert theatre.call("POST", "/charges", json=body | {"id": "t-3"}).status_code == 409
        read = theatre.call("GET", "/charges/t-3")
        assert read.json()["status"] == "refused" and read.json()["refusal"] == "insufficient_funds"
        accounts = {
            a["code"]: a["balance_cents"]
            for a in d.as_("finance", "GET", "/v1/finance/services/accounts").json()
        }
        assert accounts == {"concession:senior": -1000, "revenue:theatre": 3000}


def test_a_service_sees_only_its_own_charges_and_usage(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        town = city(d)
        bus = register(d, "bus", {"questions": ["charge", "usage"]})
        museums = register(d, "museums", {"questions": ["charge", "usage"]})
        card = town["card"]
        assert bus.call("POST", "/charges", json={"id": "x", "card": card, "product": "single"})
        r = museums.call("POST", "/charges", json={"id": "x", "card": card, "product": "entry"})
        assert r.status_code == 201
        bus_usage = bus.call("GET", f"/cards/{card}/usage").json()
        assert [(u["id"], u["product"]) for u in bus_usage] == [("x", "single")]
        assert [u["product"] for u in museums.call("GET", f"/cards/{card}/usage").json()] == [
            "entry"
        ]
        # The same id text of another client is another charge, invisible to this one.
        assert bus.call("GET", "/charges/x").json()["product"] == "single"
        r = museums.call("POST", "/charges", json={"id": "y", "card": card, "product": "single"})
        assert (r.status_code, r.json()["code"]) == (422, "product_not_of_service")
        assert bus.call("GET", "/charges/y").json()["code"] == "charge_not_found"


def test_the_cli_registers_rotates_disables_and_reports(
    sqlite_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    with desk(sqlite_url, tmp_path) as d:
        town = city(d)
        bus = register(d, "bus", {"questions": ["charge"]})
        for n in range(2):
            body = {"id": f"b{n}", "card": town["card"], "product": "single"}
            assert bus.call("POST", "/charges", json=body).status_code == 201
        today = datetime.now(ZoneInfo("Europe/Madrid")).date().isoformat()
    monkeypatch.setenv("CARD_SERVICE_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        out = runner.invoke(
            app,
            ["services", "client", "add", "--service", "sports", "--name", "Sports desk",
             "--questions", "card_status,entitlement", "--fields", "birth_date"],
        )  # fmt: skip
        assert out.exit_code == 0, out.output
        client_id = out.output.split("client_id: ")[1].split()[0]
        assert "secret: " in out.output
        bad = runner.invoke(
            app, ["services", "client", "add", "--service", "tram", "--name", "Tram"]
        )
        assert bad.exit_code != 0 and "no service 'tram'" in bad.output
        rotated = runner.invoke(app, ["services", "client", "rotate", client_id])
        assert rotated.exit_code == 0 and "previous secret valid until" in rotated.output
        assert runner.invoke(app, ["services", "client", "disable", client_id]).exit_code == 0
        listed = runner.invoke(app, ["services", "client", "list"])
        assert f"{client_id}\tsports\tdisabled" in listed.output
        opened = runner.invoke(app, ["services", "open-accounts"])
        assert opened.exit_code == 0 and "revenue:bus" in opened.output
        report = runner.invoke(app, ["services", "report", "--day", today, "--json"])
        assert report.exit_code == 0, report.output
        # A senior's ride and a free transfer: the full fare to the bus, 1.00 EUR of it from the
        # senior budget; the transfer is a use that costs nobody anything.
        assert json.loads(report.output) == [
            {
                "service": "bus",
                "day": today,
                "uses": 2,
                "refused": 0,
                "revenue_cents": 150,
                "holder_cents": 50,
                "concession_cents": 100,
                "concessions": [{"category": "senior", "uses": 1, "cost_cents": 100}],
            }
        ]
        table = runner.invoke(app, ["services", "report", "--day", today])
        assert "bus" in table.output and "senior" in table.output and "1.50" in table.output
        assert (
            runner.invoke(
                app, ["services", "report", "--day", "2026-03-02", "--json"]
            ).output.strip()
            == "[]"
        )
    finally:
        get_settings.cache_clear()
