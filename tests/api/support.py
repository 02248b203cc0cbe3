"""Helpers for HTTP tests: an app on a fresh database, staff signed in, holders and cards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
from fastapi.testclient import TestClient

from card_service.api.app import create_app
from card_service.audit.schemas import Actor
from card_service.config import Settings
from card_service.db import transaction
from card_service.identity.crypto import keyring_for
from card_service.staff import service as staff_service
from card_service.staff.roles import Role

PASSWORD = "correct horse battery staple"
PERSON = {
    "given_names": "Covadonga",
    "surnames": "Menéndez Suárez",
    "national_id": "12345678Z",
    "date_of_birth": "1954-03-08",
    "contact": {"email": "cova@example.org", "phone": "600000000"},
    "address": {"street": "Calle Corrida 1", "postcode": "33206"},
    "residence_status": "registered",
    "residence_since": "1990-01-01",
}


def code(secret: str, steps_ahead: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(datetime.now(UTC)) + steps_ahead)


@dataclass
class Desk:
    """A running app and its staff, each signed in."""

    client: TestClient
    settings: Settings
    secrets: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def as_(self, who: str, method: str, path: str, **kw: Any) -> Any:
        return self.client.request(method, path, headers=self.headers(who), **kw)

    def sessions(self) -> Any:
        return self.client.app.state.sessionmaker  # type: ignore[attr-defined]

    def add_staff(
        self, username: str, role: Role, *, enrol: bool = True, login: bool = True
    ) -> None:
        ring = keyring_for(self.settings.pii_keyring, self.settings.pii_keyring_path)
        with transaction(self.sessions()) as s:
            account = staff_service.create(
                s,
                Actor.system("test"),
                username=username,
                display_name=username.title(),
                role=role,
                password=PASSWORD,
            )
            if enrol:
                secret = pyotp.random_base32()
                account.totp_secret = ring.seal(secret.encode(), f"totp:{username}".encode())
                account.totp_enrolled = True
                self.secrets[username] = secret
        if enrol and login:
            r = self.client.post(
                "/v1/staff/login",
                json={
                    "username": username,
                    "password": PASSWORD,
                    "totp": code(self.secrets[username]),
                },
            )
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["token"]

    def person(self, **overrides: Any) -> str:
        r = self.as_("clerk", "POST", "/v1/holders/persons", json=PERSON | overrides)
        assert r.status_code == 201, r.text
        return str(r.json()["holder_id"])

    def card(
        self, holder_id: str, pin: str | None = "1234", chip: str = "04A1B2C3D4E5F6"
    ) -> dict[str, Any]:
        r = self.as_(
            "clerk", "POST", f"/v1/holders/{holder_id}/cards", json={"chip_uid": chip, "pin": pin}
        )
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result

    def citizen(self, number: str, pin: str = "1234") -> dict[str, str]:
        r = self.client.post("/v1/me/login", json={"card_number": number, "pin": pin})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def audit(self, **params: Any) -> list[dict[str, Any]]:
        r = self.as_("auditor", "GET", "/v1/audit/events", params=params)
        assert r.status_code == 200, r.text
        result: list[dict[str, Any]] = r.json()
        return result


@contextmanager
def desk(url: str, tmp_path: Path, *, staff: bool = True, **settings: Any) -> Iterator[Desk]:
    cfg = Settings(
        database_url=url,
        ledger_maintenance_interval_s=0,
        pii_keyring_path=tmp_path / "pii-keyring.json",
        **settings,
    )
    with TestClient(create_app(cfg)) as client:
        d = Desk(client, cfg)
        if staff:
            for name, role in (
                ("clerk", Role.CLERK),
                ("supervisor", Role.SUPERVISOR),
                ("auditor", Role.AUDITOR),
                ("admin", Role.ADMIN),
                ("finance", Role.FINANCE),
            ):
                d.add_staff(name, role)
        yield d
