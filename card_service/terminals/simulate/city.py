"""A simulated city: holders with cards and funded purses, a catalogue, enrolled terminals.

Cards are ``SoftCard`` (the card-less input): the city's real keys, a certificate signed by the
issuing key with the holder's categories, a counter; no APDUs, so a month of taps runs in minutes.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from card_service.audit.schemas import Actor
from card_service.cards.issuing import ISSUING_KEY_ID, keystore_for
from card_service.cards.models import Card
from card_service.catalogue import service as catalogue
from card_service.config import Settings
from card_service.db import transaction
from card_service.demo.seed import seed
from card_service.identity.crypto import keyring_for
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.ledger.results import UnknownAccount
from card_service.ledger.schemas import MAX_BATCH, TransferRequest
from card_service.protocol.certificate import HolderCertificate
from card_service.protocol.keystore import MemoryKeystore
from card_service.terminals.enrolment import enrol
from terminals.sync import TerminalIdentity
from terminals.validator.cards import SoftCard

CATALOGUE = Path(__file__).resolve().parents[2] / "catalogue" / "data" / "gijon.yaml"
ACTOR = Actor.system("simulator")
FUNDING = "sim:funding"
# The concession mix of a Spanish city's bus riders (roughly): who holds what on their card.
MIX = (
    (0.16, ("senior",)),
    (0.10, ("youth",)),
    (0.03, ("pension",)),
    (0.03, ("social",)),
    (0.02, ("largefam_general",)),
    (0.01, ("disability33",)),
)


@dataclass
class SimTerminal:
    identity: TerminalIdentity
    kind: str
    service: str
    place: str


@dataclass
class SimCity:
    keys: MemoryKeystore
    cards: list[SoftCard]
    purses: dict[bytes, int]  # chip uid -> purse account id
    terminals: list[SimTerminal] = field(default_factory=list)


def categories_for(rng: random.Random, today: date) -> tuple[str, ...]:
    roll, acc = rng.random(), 0.0
    for share, cats in MIX:
        acc += share
        if roll < acc:
            if cats == ("youth",):  # an age band ends: valid until a 26th birthday (ADR 0008)
                until = date(today.year + rng.randint(1, 8), rng.randint(1, 12), 1)
                return (f"youth~{until:%Y%m%d}",)
            return cats
    return ()


def ensure_catalogue(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        if not catalogue.versions(s):
            now = datetime.now(UTC)
            text = CATALOGUE.read_text(encoding="utf-8")
            catalogue.load(s, text, now, ACTOR, now=now)


def fund(session: Session, purses: list[int], cents: int) -> None:
    try:
        source = ledger.find_account(session, FUNDING).id
    except UnknownAccount:
        source = ledger.open_account(session, code=FUNDING, kind="stripe_clearing").id
    requests = [TransferRequest(uuid.uuid4(), source, p, cents, "top_up") for p in purses]
    for at in range(0, len(requests), MAX_BATCH):
        ledger.create_transfers(session, requests[at : at + MAX_BATCH])


def build(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    holders: int,
    purse_cents: int,
    terminals: list[tuple[int, str, str, str]],
    rng: random.Random,
    empty_share: float = 0.1,
) -> SimCity:
    """Seed holders (demo seeder), load the catalogue, fund purses, enrol terminals, issue cards."""
    seed(factory, keyring_for(settings.pii_keyring, settings.pii_keyring_path), holders_count=holders,
         seed_value=rng.randrange(2**31), batch_size=5000)  # fmt: skip
    ensure_catalogue(factory)
    keys = keystore_for(settings)
    today = date.today()
    with transaction(factory) as s:
        rows = s.execute(
            select(Card.chip_uid, Holder.purse_account_id)
            .join(Holder, Holder.id == Card.holder_id)
            .where(Card.status == "active", Card.chip_uid.is_not(None))
        ).all()
        purses = {bytes.fromhex(str(chip)): int(p) for chip, p in rows if p is not None}
        # One holder in ten has an empty purse: their paid taps become exceptions, then denials.
        funded = [p for p in sorted(purses.values()) if rng.random() >= empty_share]
        fund(s, funded, purse_cents)
    expires = int(datetime.now(UTC).timestamp()) + 5 * 365 * 86400
    issuer = keys.issuer_key(ISSUING_KEY_ID)
    cards = []
    # In the order of their purses (the seed's order): chip UIDs are random, so ordering by them
    # would give every run other riders for the same seed.
    for uid in sorted(purses, key=purses.__getitem__):
        cert = HolderCertificate(
            ISSUING_KEY_ID, uid.ljust(16, b"\0"), rng.randbytes(16), expires,
            keys.current_version, categories_for(rng, today),
        ).sign(issuer)  # fmt: skip
        cards.append(SoftCard.issued(keys, uid, cert))
    city = SimCity(keys, cards, purses)
    with transaction(factory) as s:
        for terminal_id, kind, service, place in terminals:
            identity = TerminalIdentity(
                terminal_id, Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
            )
            enrol(s, ACTOR, terminal_id=terminal_id, kind=kind, service=service, place=place,
                  public_key=identity.public_key)  # fmt: skip
            city.terminals.append(SimTerminal(identity, kind, service, place))
    return city
