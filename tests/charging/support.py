"""A small city for charging and service-API tests: the demo catalogue, staff, holders, cards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

import card_service.catalogue
from card_service.audit.schemas import Actor
from card_service.cards import service as cards
from card_service.catalogue import service as catalogue
from card_service.charging import service as charging
from card_service.db import transaction
from card_service.entitlements import categories
from card_service.entitlements import service as grants
from card_service.entitlements.schemas import GrantIn
from card_service.identity import service as holders
from card_service.identity.crypto import Keyring
from card_service.identity.models import Holder
from card_service.identity.schemas import Address, EvidenceIn, PersonIn
from card_service.ledger.schemas import TransferRequest
from card_service.ledger.service import balance, create_transfer, find_account, open_account
from card_service.staff import service as staff_service
from card_service.staff.roles import Role

GIJON = Path(card_service.catalogue.__file__).parent / "data" / "gijon.yaml"
MADRID = ZoneInfo("Europe/Madrid")
# A Monday morning in the city; the catalogue is in force from then on.
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


def load_catalogue(factory: sessionmaker[Session], at: datetime = T0) -> None:
    with transaction(factory) as s:
        catalogue.load(s, GIJON.read_text(encoding="utf-8"), at, Actor.system("test"), now=at)


def add_staff(factory: sessionmaker[Session], username: str, role: Role = Role.CLERK) -> Actor:
    with transaction(factory) as s:
        account = staff_service.create(
            s,
            Actor.system("test"),
            username=username,
            display_name=username.title(),
            role=role,
            password=PASSWORD,
        )
        return Actor("staff", username, str(role), None, account.id)


_nid = iter(range(10_000_000, 99_999_999, 7919))


def national_id() -> str:
    from card_service.identity.national_id import dni_letter

    n = next(_nid)
    return f"{n:08d}{dni_letter(n)}"


@dataclass
class Person:
    pseudonym: str
    card: str
    holder_id: int


def person(
    factory: sessionmaker[Session],
    ring: Keyring,
    clerk: Actor,
    born: date,
    *,
    topup_cents: int = 0,
    today: date | None = None,
) -> Person:
    with transaction(factory) as s:
        holder = holders.create_person(
            s,
            ring,
            clerk,
            PersonIn(
                given_names="Xuan",
                surnames="Fernández Álvarez",
                national_id=national_id(),
                date_of_birth=born,
                address=Address(street="Calle Corrida 1", postcode="33206"),
                residence_status="registered",
            ),
        )
        card = cards.issue(
            s,
            clerk,
            holder.pseudonym,
            chip_uid=uuid.uuid4().hex[:14].upper(),
            pin=None,
            today=today or T0.date() - timedelta(days=30),
            validity_years=5,
        )
        out = Person(holder.pseudonym, card.number, holder.id)
    if topup_cents:
        topup(factory, out, topup_cents)
    return out


def topup(factory: sessionmaker[Session], p: Person, cents: int) -> None:
    with transaction(factory) as s:
        try:
            source = find_account(s, "topup:test").id
        except Exception:
            source = open_account(s, code="topup:test", kind="stripe_clearing").id
        holder = holders.get(s, p.pseudonym)
        assert holder.purse_account_id is not None
        create_transfer(
            s,
            TransferRequest(uuid.uuid4(), source, holder.purse_account_id, cents, "topup"),
        )


def grant(
    factory: sessionmaker[Session],
    ring: Keyring,
    clerk: Actor,
    approver: Actor | None,
    p: Person,
    category: str,
    *,
    now: datetime = T0,
) -> int:
    with transaction(factory) as s:
        evidence = holders.add_evidence(
            s, ring, clerk, p.pseudonym, EvidenceIn(doc_type="certificate", number="X-1")
        )
        cats = categories.of_rules(catalogue.in_force(s, now))
        body = GrantIn(
            category=category, evidence_id=evidence.id, valid_to=now + timedelta(days=365)
        )
        g = grants.create(s, clerk, p.pseudonym, body, cats, now=now)
        if g.needs_approval:
            assert approver is not None
            grants.approve(s, approver, g.id, now=now)
        return g.id


def charge(
    factory: sessionmaker[Session],
    ring: Keyring,
    p: Person,
    service: str,
    product: str,
    at: datetime,
    *,
    ref: str | None = None,
    channel: str = "test",
    quantity: int = 1,
) -> charging.Outcome:
    with transaction(factory) as s:
        rules = catalogue.in_force(s, at)
        req = charging.Request(
            channel, ref or uuid.uuid4().hex, service, p.card, product, quantity, at
        )
        return charging.charge(s, ring, rules, req, MADRID)


def balance_of(factory: sessionmaker[Session], code: str) -> int:
    """Credits less debits of the account with this code (0 if it was never opened)."""
    with factory() as s:
        try:
            return balance(s, find_account(s, code).id).balance_cents
        except Exception:
            return 0


def purse(factory: sessionmaker[Session], p: Person) -> int:
    return balance_of(factory, cards.purse_code(p.pseudonym))


def holder_row(s: Session, p: Person) -> Holder:
    return holders.get(s, p.pseudonym)


def as_dict(outcome: charging.Outcome) -> dict[str, Any]:
    c = outcome.charge
    return {
        "status": c.status,
        "price": c.price_cents,
        "holder": c.holder_cents,
        "concession": c.concession_cents,
        "category": c.concession_category,
        "rule": c.rule,
    }
