"""The clerk desk's device side: its card_service client (staff calls) and its card reader, where
a blank card is read and then personalised for the card card_service issued.

Personalisation signs the holder certificate with the city's issuing key, as
terminals.pcsc.personalise does today; so a desk station holds the issuing key (the demo reads
card_service's keystore file). Moving the signature into card_service (the desk sends the card's
UID, card_service answers the signed certificate) is listed as left to do in ADR 0009.
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from card_service.protocol.keystore import MemoryKeystore
from terminals.kiosk.card import card_id_for
from terminals.kiosk.client import CardServiceClient
from terminals.pcsc.card_client import CardClient
from terminals.pcsc.channel import Channel
from terminals.pcsc.errors import ReaderUnavailable
from terminals.pcsc.personalise import CardIssue, personalise

ISSUING_KEY_ID = 1


class DeskClient(CardServiceClient):
    """card_service's staff API, for the desk's pages."""

    def staff_login(self, username: str, password: str, totp: str) -> dict[str, Any]:
        body = {"username": username, "password": password, "totp": totp}
        result: dict[str, Any] = self._json("POST", "/v1/staff/login", json=body)
        return result

    def staff_logout(self, token: str) -> None:
        self._request("POST", "/v1/staff/logout", token=token)

    def lookup(self, token: str, national_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", "/v1/holders/lookup", token=token, json={"national_id": national_id}
        )
        return result

    def search_holders(self, token: str, name: str) -> list[dict[str, Any]]:
        """Holders whose name holds every word of ``name`` (in the body: never in a log)."""
        result: list[dict[str, Any]] = self._json(
            "POST", "/v1/holders/search", token=token, json={"name": name}
        )
        return result

    def card(self, token: str, number: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/v1/cards/{number}", token=token)
        return result

    def holder(self, token: str, holder_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/v1/holders/{holder_id}", token=token)
        return result

    def holder_cards(self, token: str, holder_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json(
            "GET", f"/v1/holders/{holder_id}/cards", token=token
        )
        return result

    def evidence(self, token: str, holder_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json(
            "GET", f"/v1/holders/{holder_id}/evidence", token=token
        )
        return result

    # -- entitlement grants (card_service/entitlements) ------------------------------------------

    def categories(self, token: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", "/v1/entitlements/categories", token=token)
        return result

    def grants(self, token: str, holder_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json(
            "GET", f"/v1/holders/{holder_id}/grants", token=token
        )
        return result

    def grant(self, token: str, holder_id: str, grant: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"/v1/holders/{holder_id}/grants", token=token, json=grant
        )
        return result

    def approve_grant(self, token: str, grant_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", f"/v1/grants/{grant_id}/approval", token=token)
        return result

    def revoke_grant(self, token: str, grant_id: int, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"/v1/grants/{grant_id}/revocation", token=token, json={"reason": reason}
        )
        return result

    def create_person(self, token: str, person: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", "/v1/holders/persons", token=token, json=person)
        return result

    def add_evidence(self, token: str, holder_id: str, evidence: dict[str, Any]) -> None:
        self._request("POST", f"/v1/holders/{holder_id}/evidence", token=token, json=evidence)

    def issue_card(self, token: str, holder_id: str, chip_uid: str, pin: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST",
            f"/v1/holders/{holder_id}/cards",
            token=token,
            json={"chip_uid": chip_uid, "pin": pin},
        )
        return result

    def block(self, token: str, number: str, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"/v1/cards/{number}/block", token=token, json={"reason": reason}
        )
        return result

    def replace(self, token: str, number: str, chip_uid: str, pin: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"chip_uid": chip_uid}
        if pin:
            body["pin"] = pin
        result: dict[str, Any] = self._json(
            "POST", f"/v1/cards/{number}/replace", token=token, json=body
        )
        return result

    def holder_history(self, token: str, holder_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json(
            "GET", f"/v1/holders/{holder_id}/history", token=token
        )
        return result

    def holder_export(self, token: str, holder_id: str) -> bytes:
        return self._request("GET", f"/v1/holders/{holder_id}/export", token=token).content

    def audit(self, token: str, target: str, limit: int = 50) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json(
            "GET", "/v1/audit/events", token=token, params={"target": target, "limit": limit}
        )
        return result


class DeskReader(Protocol):
    def open(self) -> Channel:
        """A channel to the card lying on the desk's reader (raises ReaderUnavailable)."""


class PcscDeskReader:
    """The desk's PC/SC reader, opened on demand (no watcher: the clerk says when)."""

    def __init__(self, reader_prefix: str) -> None:
        self.reader_prefix = reader_prefix

    def open(self) -> Channel:
        from smartcard.System import readers

        from terminals.pcsc.channel import PcscChannel

        for reader in readers():
            if str(reader).startswith(self.reader_prefix):
                return PcscChannel(_connect(reader))
        raise ReaderUnavailable(f"no reader named {self.reader_prefix!r}")


def _connect(reader: Any) -> Any:
    from smartcard.Exceptions import SmartcardException
    from smartcard.scard import SCARD_PROTOCOL_T1

    from terminals.pcsc.channel import map_pcsc_error

    conn = reader.createConnection()
    try:
        conn.connect(SCARD_PROTOCOL_T1)
    except SmartcardException as exc:
        raise map_pcsc_error(exc) from exc
    return conn


class DemoDeskReader:
    """The demo's blank cards: each issue takes a new blank virtual card from ``directory``."""

    def __init__(self, directory: Path, transport_master: bytes) -> None:
        self.directory = directory
        self.transport_master = transport_master

    def open(self) -> Channel:
        from terminals.virtual_card.applet import Applet
        from terminals.virtual_card.local import LocalChannel
        from terminals.virtual_card.state import CardFile, CardStore

        self.directory.mkdir(parents=True, exist_ok=True)
        uid = b"\x04" + os.urandom(6)
        store = CardStore(self.directory / f"blank-{uid.hex()}.json")
        store.save(CardFile.blank(uid, self.transport_master))
        return LocalChannel(Applet(store))


def holder_bytes(pseudonym: str) -> bytes:
    return hashlib.sha256(b"holder certificate pseudonym|" + pseudonym.encode()).digest()[:16]


class DeskStation:
    def __init__(self, client: DeskClient, keys: MemoryKeystore, reader: DeskReader) -> None:
        self.client = client
        self.keys = keys
        self.reader = reader

    def issue(self, token: str, holder_id: str, pin: str, replaces: str | None = None) -> str:
        """Read the blank card's UID, have card_service issue (or replace) the card for it, and
        personalise the card for the number issued. Returns the card number."""
        channel = self.reader.open()
        try:
            return self._issue(channel, token, holder_id, pin, replaces)
        finally:
            close = getattr(channel, "close", None)
            if close is not None:
                close()

    def _issue(
        self, channel: Channel, token: str, holder_id: str, pin: str, replaces: str | None
    ) -> str:
        uid = CardClient(channel).select().uid.hex().upper()
        if replaces:
            card = self.client.replace(token, replaces, uid, pin or None)
        else:
            card = self.client.issue_card(token, holder_id, uid, pin)
        expires = date.fromisoformat(card["expires_on"])
        personalise(
            channel,
            self.keys,
            CardIssue(
                card_id_for(card["number"]),
                holder_bytes(card["holder_id"]),
                int(time.mktime(expires.timetuple())),
                ("resident",),
                ISSUING_KEY_ID,
            ),
        )
        if hasattr(self.reader, "directory"):  # the demo: the card is ready for the kiosk
            src = getattr(channel, "applet").store.path  # noqa: B009
            src.rename(src.with_name(f"card-{card['number']}.json"))
        return str(card["number"])


def with_transport(city: MemoryKeystore, transport_master: bytes) -> MemoryKeystore:
    """The city's keys plus the transport key blank cards are shipped with (version 0)."""
    return MemoryKeystore(
        masters={**city.masters, 0: transport_master},
        issuers=dict(city.issuers),
        current=city.current,
    )
