"""A back office on a fresh database, enrolled terminals, and cards that really tap (the applet
in process), for settlement tests."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from card_service.cards.issuing import ISSUING_KEY_ID, keystore_for
from card_service.cards.models import Card
from card_service.db import transaction
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.ledger.schemas import TransferRequest
from card_service.protocol.keystore import MemoryKeystore
from card_service.protocol.terminal_wire import WireTap
from card_service.terminals.postings import revenue_code
from terminals.pcsc.personalise import CardIssue, personalise
from terminals.pcsc.tap import TapTerminal
from terminals.sync import SyncClient, TerminalIdentity
from terminals.virtual_card.applet import Applet
from terminals.virtual_card.local import LocalChannel
from terminals.virtual_card.state import CardFile, CardStore
from tests.api.support import Desk, desk


@dataclass
class City:
    d: Desk
    tmp: Path
    keys: MemoryKeystore
    cards: dict[str, LocalChannel] = field(default_factory=dict)  # chip uid hex -> card
    numbers: dict[str, str] = field(default_factory=dict)  # chip uid hex -> card number

    def enrol(
        self, terminal_id: int, service: str = "bus", kind: str = "bus_validator"
    ) -> TerminalIdentity:
        identity = TerminalIdentity(terminal_id, Ed25519PrivateKey.generate())
        r = self.d.as_(
            "admin",
            "POST",
            "/v1/terminals",
            json={
                "id": terminal_id,
                "kind": kind,
                "service": service,
                "place": f"bus {terminal_id}",
                "public_key": identity.public_key.hex(),
            },
        )
        assert r.status_code == 201, r.text
        return identity

    def client(self, identity: TerminalIdentity, **kw: Any) -> SyncClient:
        return SyncClient("http://testserver", identity, http=self.d.client, **kw)

    def card(self, balance_cents: int = 1000, categories: tuple[str, ...] = ()) -> str:
        uid = os.urandom(7)
        store = CardStore(self.tmp / f"card-{uid.hex()}.json")
        store.save(CardFile.blank(uid, self.keys.master_key(0)))
        channel = LocalChannel(Applet(store))
        issue = CardIssue(
            os.urandom(16),
            os.urandom(16),
            int(time.time()) + 86400 * 365,
            categories,
            ISSUING_KEY_ID,
        )
        personalise(channel, self.keys, issue)
        holder = self.d.person(national_id=_dni())
        chip = uid.hex().upper()
        self.numbers[chip] = self.d.card(holder, chip=chip)["number"]
        self.cards[chip] = channel
        if balance_cents:
            self.top_up(chip, balance_cents)
        return chip

    def purse(self, chip: str) -> int:
        with transaction(self.d.sessions()) as s:
            holder_id = s.scalars(select(Card.holder_id).where(Card.chip_uid == chip)).one()
            purse = s.get(Holder, holder_id).purse_account_id  # type: ignore[union-attr]
            assert purse is not None
            return int(purse)

    def top_up(self, chip: str, cents: int) -> None:
        purse = self.purse(chip)
        with transaction(self.d.sessions()) as s:
            try:
                source = ledger.find_account(s, "test:funding").id
            except Exception:
                source = ledger.open_account(s, code="test:funding", kind="stripe_clearing").id
            ledger.create_transfer(s, TransferRequest(uuid.uuid4(), source, purse, cents, "top_up"))

    def balance(self, code_or_id: str | int) -> int:
        with transaction(self.d.sessions()) as s:
            aid = (
                code_or_id if isinstance(code_or_id, int) else ledger.find_account(s, code_or_id).id
            )
            return ledger.balance(s, aid).balance_cents

    def revenue(self, service: str = "bus") -> int:
        try:
            return self.balance(revenue_code(service))
        except Exception:  # no revenue account yet: nothing settled
            return 0

    def tap(
        self, terminal_id: int, chip: str, cents: int = 150, seq: int | None = None, **kw: Any
    ) -> WireTap:
        """A real tap of this card at this terminal id: the card counts and MACs it."""
        clock = kw.get("clock", time.time)  # what the card MACs as the tap's time
        terminal = TapTerminal(
            self.keys, self.keys.issuer_public_keys(), terminal_id, clock, lambda c: cents
        )
        if seq is not None:
            terminal._seq = seq - 1
        outcome = terminal.present(self.cards[chip])
        assert outcome.code == "charged", outcome
        assert outcome.record is not None and outcome.mac is not None and outcome.uid is not None
        return WireTap(
            seq=outcome.record.terminal_seq,
            uid=outcome.uid,
            key_version=outcome.key_version or 0,
            record=outcome.record,
            mac=outcome.mac,
            concession_cents=kw.get("concession_cents", 0),
            concession_category=kw.get("concession_category"),
            service=kw.get("service", "bus"),
            product="single",
            rule="base",
        )


_dni_counter = [10_000_000]


def _dni() -> str:
    from card_service.identity.national_id import dni_letter

    _dni_counter[0] += 1
    n = _dni_counter[0] + int.from_bytes(os.urandom(3), "big")
    return f"{n:08d}{dni_letter(n)}"


@contextmanager
def city(url: str, tmp_path: Path) -> Iterator[City]:
    with desk(
        url, tmp_path, keystore_path=tmp_path / "keystore.json", keystore_passphrase="test"
    ) as d:
        keys = keystore_for(d.settings)
        if 0 not in keys.masters:
            keys.masters[0] = os.urandom(16)  # the transport key blank cards leave the factory with
        yield City(d, tmp_path, keys)


def verify_clean(c: City) -> None:
    from card_service.ledger.seal import seal
    from card_service.ledger.verify import verify

    with transaction(c.d.sessions()) as s:
        seal(s)
    with transaction(c.d.sessions()) as s:
        report = verify(s)
    assert report.ok, report.problems


def results(answers: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(a["seq"], a["result"], a.get("reason")) for a in answers]
