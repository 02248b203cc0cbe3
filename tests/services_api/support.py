"""HTTP helpers for the service API: register clients as the admin, ask as a client."""

from __future__ import annotations

import base64
from typing import Any

from tests.api.support import Desk
from tests.charging.support import load_catalogue


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class Client:
    """A registered service client talking to the app."""

    def __init__(self, d: Desk, client_id: str, secret: str) -> None:
        self.d, self.client_id, self.secret = d, client_id, secret

    def call(
        self,
        method: str,
        path: str,
        *,
        purpose: str | None = "matrix test",
        secret: str | None = None,
        **kw: Any,
    ) -> Any:
        headers = {"Authorization": basic(self.client_id, secret or self.secret)}
        if purpose is not None:
            headers["Purpose"] = purpose
        return self.d.client.request(method, "/v1/services" + path, headers=headers, **kw)


def register(d: Desk, service: str, policy: dict[str, Any] | None = None, **extra: Any) -> Client:
    body: dict[str, Any] = {"service": service, "name": f"{service} system", **extra}
    if policy is not None:
        body["policy"] = policy
    r = d.as_("admin", "POST", "/v1/service-clients", json=body)
    assert r.status_code == 201, r.text
    return Client(d, r.json()["client_id"], r.json()["secret"])


def city(d: Desk) -> dict[str, Any]:
    """The demo catalogue and one senior holder (born 1954) with an active card and 20 EUR."""
    from card_service.db import transaction
    from card_service.identity import service as holders
    from tests.charging.support import Person, topup

    load_catalogue(d.sessions())
    holder = d.person()
    card = d.card(holder)["number"]
    with transaction(d.sessions()) as s:
        holder_id = holders.get(s, holder).id
    topup(d.sessions(), Person(holder, card, holder_id), 2000)
    return {"holder": holder, "card": card}


def service_events(d: Desk, client_id: str) -> list[dict[str, Any]]:
    return d.audit(actor=client_id, limit=500)
