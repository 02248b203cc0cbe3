"""Terminal enrolment, and RFC 9421 signatures on every terminal request."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from terminals.sync import SyncRefused, TerminalIdentity, signed_headers
from tests.settlement.support import City, city


def test_admin_enrols_and_disables_a_terminal_and_only_the_admin(
    sqlite_url: str, tmp_path: Path
) -> None:
    with city(sqlite_url, tmp_path) as c:
        me = c.enrol(101)
        assert c.client(me).upload([]) == []
        listed = c.d.as_("admin", "GET", "/v1/terminals").json()
        assert [(t["id"], t["kind"], t["status"]) for t in listed] == [
            (101, "bus_validator", "active")
        ]
        again = c.d.as_(
            "admin",
            "POST",
            "/v1/terminals",
            json={
                "id": 101,
                "kind": "kiosk",
                "service": "bus",
                "place": "x",
                "public_key": "00" * 32,
            },
        )
        assert again.status_code == 409 and again.json()["code"] == "terminal_exists"
        clerk = c.d.as_("clerk", "POST", "/v1/terminals/101/disable", json={"reason": "stolen bus"})
        assert clerk.status_code == 403
        r = c.d.as_("admin", "POST", "/v1/terminals/101/disable", json={"reason": "stolen bus"})
        assert r.status_code == 200 and r.json()["status"] == "disabled"
        with pytest.raises(SyncRefused) as refused:
            c.client(me).upload([])
        assert refused.value.problem_code == "terminal_disabled"
        events = c.d.audit(limit=50)
        assert {"terminal.enrol", "terminal.disable"} <= {e["action"] for e in events}


def _post(
    c: City, identity: TerminalIdentity, body: bytes, created: float, tamper: bool = False
) -> httpx.Response:
    url = "http://testserver/v1/terminal/taps"
    headers = signed_headers(identity, "POST", url, body, created)
    if tamper:
        body = body.replace(b"[]", b"[ ]")
    return c.d.client.post(url, content=body, headers=headers)


def test_each_bad_request_is_refused_with_its_own_name(sqlite_url: str, tmp_path: Path) -> None:
    with city(sqlite_url, tmp_path) as c:
        me = c.enrol(7)
        body = b'{"taps":[]}'
        assert _post(c, me, body, time.time()).status_code == 200
        stranger = TerminalIdentity(8, Ed25519PrivateKey.generate())
        impostor = TerminalIdentity(7, Ed25519PrivateKey.generate())  # right id, wrong key
        cases = {
            "terminal_unknown": _post(c, stranger, body, time.time()),
            "signature_invalid": _post(c, impostor, body, time.time()),
            "clock_outside_window": _post(c, me, body, time.time() - 3600),
            "clock_outside_window ": _post(c, me, body, time.time() + 3600),
        }
        cases["signature_invalid "] = _post(c, me, body, time.time(), tamper=True)
        unsigned = c.d.client.post("/v1/terminal/taps", json={"taps": []})
        cases["signature_missing"] = unsigned
        for name, response in cases.items():
            assert response.json()["code"] == name.strip(), (name, response.text)
            assert response.status_code in (400, 401)
