"""Staff sign-in: enrolment with a QR code, password plus a fresh TOTP code, lockout, sessions."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from card_service.staff.roles import Role
from tests.api.support import PASSWORD, code, desk


def test_enrolment_then_login_with_single_use_codes(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        d.add_staff("marta", Role.CLERK, enrol=False, login=False)
        creds = {"username": "marta", "password": PASSWORD}
        not_yet = d.client.post("/v1/staff/login", json=creds | {"totp": "123456"})
        assert not_yet.status_code == 409 and not_yet.json()["code"] == "totp_not_enrolled"

        start = d.client.post("/v1/staff/enrolment", json=creds)
        assert start.status_code == 200
        uri = start.json()["provisioning_uri"]
        assert uri.startswith("otpauth://totp/") and "marta" in uri
        svg = start.json()["qr_svg_data_uri"]
        assert svg.startswith("data:image/svg+xml")
        secret = parse_qs(urlparse(uri).query)["secret"][0]

        wrong = d.client.post("/v1/staff/enrolment/confirm", json=creds | {"totp": "000000"})
        assert wrong.json()["code"] in ("totp_invalid",)
        first_code = code(secret)
        ok = d.client.post("/v1/staff/enrolment/confirm", json=creds | {"totp": first_code})
        assert ok.status_code == 200 and ok.json()["totp_enrolled"]
        assert d.client.post("/v1/staff/enrolment", json=creds).json()["code"] == (
            "totp_already_enrolled"
        )

        # The code used to confirm cannot sign in: a code is accepted once.
        # (The same string, not a code computed again: a new 30 s step would make it a new code.)
        reused = d.client.post("/v1/staff/login", json=creds | {"totp": first_code})
        assert reused.status_code == 401 and reused.json()["code"] == "totp_reused"
        login = d.client.post("/v1/staff/login", json=creds | {"totp": code(secret, 1)})
        assert login.status_code == 200 and login.json()["role"] == "clerk"
        me = d.client.get(
            "/v1/staff/me", headers={"Authorization": f"Bearer {login.json()['token']}"}
        )
        assert me.json()["username"] == "marta"

        bad_password = d.client.post(
            "/v1/staff/login", json={"username": "marta", "password": "nope", "totp": code(secret)}
        )
        assert bad_password.json()["code"] == "login_failed"
        nobody = d.client.post(
            "/v1/staff/login", json={"username": "ghost", "password": "x", "totp": "123456"}
        )
        assert nobody.json()["code"] == "login_failed"
        failed = d.audit(action="staff.login", outcome="failed")
        assert {e["target"] for e in failed} == {"staff:marta", "staff:ghost"}


def test_lockout_after_repeated_failures_and_admin_unlock(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path, staff_lockout_failures=3) as d:
        d.add_staff("pablo", Role.CLERK, login=False)
        creds = {"username": "pablo", "password": PASSWORD}
        for _ in range(3):
            r = d.client.post("/v1/staff/login", json=creds | {"totp": "000000"})
            assert r.json()["code"] == "totp_invalid"
        locked = d.client.post("/v1/staff/login", json=creds | {"totp": code(d.secrets["pablo"])})
        assert locked.status_code == 423 and locked.json()["code"] == "account_locked"
        accounts = {a["username"]: a for a in d.as_("admin", "GET", "/v1/staff/accounts").json()}
        assert accounts["pablo"]["locked"] is True and not accounts["clerk"]["locked"]
        assert d.as_("admin", "POST", "/v1/staff/accounts/pablo/unlock").status_code == 200
        ok = d.client.post("/v1/staff/login", json=creds | {"totp": code(d.secrets["pablo"])})
        assert ok.status_code == 200


def test_sessions_expire_and_close(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path, staff=False, staff_session_minutes=0) as d:
        d.add_staff("clerk", Role.CLERK)
        expired = d.as_("clerk", "GET", "/v1/staff/me")
        assert expired.status_code == 401 and expired.json()["code"] == "session_expired"
        anonymous = d.client.get("/v1/staff/me")
        assert (
            anonymous.status_code == 401 and anonymous.json()["code"] == "authentication_required"
        )
        forged = d.client.get(
            "/v1/staff/me",
            headers={"Authorization": "Bearer " + base64.b64encode(b"x" * 32).decode()},
        )
        assert forged.json()["code"] == "session_expired"
    with desk(sqlite_url, tmp_path, staff=False) as d:
        d.add_staff("rosa", Role.CLERK)
        assert d.as_("rosa", "GET", "/v1/staff/me").json()["username"] == "rosa"
        assert d.as_("rosa", "POST", "/v1/staff/logout").status_code == 204
        assert d.as_("rosa", "GET", "/v1/staff/me").json()["code"] == "session_expired"


def test_admin_manages_accounts(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        body = {
            "username": "lucia",
            "display_name": "Lucía",
            "role": "supervisor",
            "password": "short",
        }
        weak = d.as_("admin", "POST", "/v1/staff/accounts", json=body)
        assert weak.status_code == 422 and weak.json()["code"] == "password_too_weak"
        made = d.as_("admin", "POST", "/v1/staff/accounts", json=body | {"password": PASSWORD})
        assert made.status_code == 201 and not made.json()["totp_enrolled"]
        dup = d.as_("admin", "POST", "/v1/staff/accounts", json=body | {"password": PASSWORD})
        assert dup.status_code == 409 and dup.json()["code"] == "staff_already_exists"
        reset = d.as_("admin", "POST", "/v1/staff/accounts/clerk/reset-totp")
        assert reset.json()["totp_enrolled"] is False
        assert d.audit(target="staff:lucia")[0]["action"] == "staff.create"
