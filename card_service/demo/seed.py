"""``demo seed``: a demo city of holders with active cards and purses, staff and personas.

The bulk path inserts holders, data keys and cards in batches (one transaction each) and opens
the purses of each batch with one call of the ledger's ``open_accounts``. Generated holders have no PIN (argon2 costs tens
of milliseconds a hash); the named personas have theirs. Staff TOTP secrets are returned once.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyotp
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.cards import luhn
from card_service.cards import service as cards
from card_service.cards.models import Card
from card_service.cards.purse import OFFLINE_FLOOR_CENTS
from card_service.db import transaction
from card_service.demo.data import GIVEN, PERSONAS, POSTCODES, STAFF, STREETS, SURNAMES
from card_service.identity import names
from card_service.identity import service as holders
from card_service.identity.crypto import Keyring
from card_service.identity.models import DataKey, Holder, HolderNameWord
from card_service.identity.national_id import dni_letter
from card_service.identity.schemas import Address, Contact, PersonIn
from card_service.ledger.schemas import AccountFlags, AccountSpec
from card_service.ledger.service import open_accounts
from card_service.staff import service as staff
from card_service.staff.models import StaffAccount
from card_service.staff.roles import Role, utcnow

ACTOR = Actor.system("demo seed")


@dataclass
class SeedReport:
    holders: int = 0
    skipped: bool = False
    staff: list[tuple[str, str, str, str]] = field(default_factory=list)  # user, role, pw, totp
    personas: list[tuple[str, str, str, str]] = field(default_factory=list)  # name, id, card, pin
    sample: list[tuple[str, str]] = field(default_factory=list)  # (card number, national id)


def has_holders(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Holder)) != 0


def _person(rng: random.Random, nid: str) -> dict[str, object]:
    born = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 33_000))
    return {
        "given_names": rng.choice(GIVEN),
        "surnames": f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}",
        "national_id": nid,
        "date_of_birth": born.isoformat(),
        "contact": {"email": None, "phone": f"6{rng.randrange(10**7, 10**8)}"},
        "address": {
            "street": f"{rng.choice(STREETS)} {rng.randrange(1, 120)}",
            "postcode": rng.choice(POSTCODES),
            "city": "Gijón",
            "country": "ES",
        },
        "residence_status": "registered",
        "residence_since": None,
    }


def _fresh_numbers(session: Session, k: int) -> list[str]:
    """``k`` new card numbers, distinct and not in use (11 random digits do collide at 1M)."""
    fresh: set[str] = set()
    while len(fresh) < k:
        candidates = {luhn.new_number() for _ in range(k - len(fresh))} - fresh
        used = set(session.scalars(select(Card.number).where(Card.number.in_(candidates))))
        fresh |= candidates - used
    return list(fresh)


def _bulk_batch(
    session: Session,
    ring: Keyring,
    rng: random.Random,
    numbers: list[int],
    today: date,
    sample_every: int,
    report: SeedReport,
) -> int:
    nids = [f"{n:08d}{dni_letter(n)}" for n in numbers]
    hashes = {holders.national_id_hash(ring, nid): nid for nid in nids}
    taken = set(
        session.scalars(
            select(Holder.national_id_hash).where(Holder.national_id_hash.in_(list(hashes)))
        )
    )
    now = utcnow()
    holder_rows, sealed_by_pseudonym, nid_by_pseudonym = [], {}, {}
    fresh = [(digest, nid) for digest, nid in hashes.items() if digest not in taken]
    people = [_person(rng, nid) for _, nid in fresh]
    sealed_all = [holders.seal_new(ring, fields) for fields in people]
    # The purses first, in one statement: each holder row then carries its purse's id.
    purse_ids = open_accounts(
        session,
        [
            AccountSpec(
                code=cards.purse_code(sealed.pseudonym),
                kind="purse",
                flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                floor_cents=OFFLINE_FLOOR_CENTS,
            )
            for sealed in sealed_all
        ],
    )
    fields_by_pseudonym = {}
    for (digest, nid), sealed, fields, purse_id in zip(
        fresh, sealed_all, people, purse_ids, strict=True
    ):
        sealed_by_pseudonym[sealed.pseudonym] = sealed
        fields_by_pseudonym[sealed.pseudonym] = fields
        nid_by_pseudonym[sealed.pseudonym] = nid
        holder_rows.append(
            {
                "pseudonym": sealed.pseudonym,
                "kind": "person",
                "status": "active",
                "national_id_hash": digest,
                "pii": sealed.pii,
                "created_at": now,
                "updated_at": now,
                "purse_account_id": purse_id,
            }
        )
    if not holder_rows:
        return 0
    ids = session.execute(
        insert(Holder).returning(Holder.id, Holder.pseudonym, sort_by_parameter_order=True),
        holder_rows,
    ).all()
    key_rows, card_rows, word_rows = [], [], []
    card_numbers = iter(_fresh_numbers(session, len(ids)))
    expires = cards.expiry(today, 5)
    for holder_id, pseudonym in ids:
        s = sealed_by_pseudonym[pseudonym]
        key_rows.append(
            {
                "holder_id": holder_id,
                "key_id": s.key_id,
                "master_key_id": s.master_key_id,
                "wrapped": s.wrapped,
                "created_at": now,
            }
        )
        word_rows += names.rows_for(ring, holder_id, fields_by_pseudonym[pseudonym])
        number = next(card_numbers)
        card_rows.append(
            {
                "number": number,
                "chip_uid": secrets.token_hex(7).upper(),
                "holder_id": holder_id,
                "status": "active",
                "expires_on": expires,
                "pin_failures": 0,
                "issued_at": now,
                "updated_at": now,
            }
        )
        if sample_every and rng.randrange(sample_every) == 0:
            report.sample.append((number, nid_by_pseudonym[pseudonym]))
    session.execute(insert(DataKey), key_rows)
    session.execute(insert(Card), card_rows)
    session.execute(insert(HolderNameWord), word_rows)
    session.expunge_all()
    return len(ids)


def _seed_staff(session: Session, ring: Keyring, report: SeedReport) -> None:
    for username, name, role in STAFF:
        if session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)):
            continue
        password = secrets.token_urlsafe(12)
        account = staff.create(
            session, ACTOR, username=username, display_name=name, role=Role(role), password=password
        )
        secret = pyotp.random_base32()
        account.totp_secret = ring.seal(secret.encode(), f"totp:{username}".encode())
        account.totp_enrolled = True
        report.staff.append((username, role, password, secret))
    session.flush()


def _seed_personas(session: Session, ring: Keyring, today: date, report: SeedReport) -> None:
    clerk = session.scalars(select(StaffAccount).where(StaffAccount.role == "clerk")).first()
    actor = Actor("staff", clerk.username, clerk.role, None, clerk.id) if clerk else ACTOR
    for p in PERSONAS:
        if holders.find_by_national_id(session, ring, str(p["national_id"])) is not None:
            continue
        data = PersonIn(
            given_names=str(p["given_names"]),
            surnames=str(p["surnames"]),
            national_id=str(p["national_id"]),
            date_of_birth=date.fromisoformat(str(p["date_of_birth"])),
            contact=Contact(email=f"{str(p['given_names']).lower()}@example.org"),
            address=Address(street="Calle Corrida 1", postcode="33206"),
            residence_status="registered",
        )
        holder = holders.create_person(session, ring, actor, data)
        card = cards.issue(
            session,
            actor,
            holder.pseudonym,
            chip_uid=secrets.token_hex(7).upper(),
            pin=str(p["pin"]),
            today=today,
            validity_years=5,
        )
        report.personas.append(
            (
                f"{p['given_names']} {p['surnames']} ({p['note']})",
                str(p["national_id"]),
                card.number,
                str(p["pin"]),
            )
        )


def seed(
    factory: sessionmaker[Session],
    ring: Keyring,
    *,
    holders_count: int = 1000,
    if_empty: bool = False,
    batch_size: int = 2000,
    sample_every: int = 0,
    seed_value: int | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> SeedReport:
    report = SeedReport()
    today = date.today()
    rng = random.Random(seed_value)
    with transaction(factory) as session:
        if if_empty and has_holders(session):
            report.skipped = True
            return report
        _seed_staff(session, ring, report)
        _seed_personas(session, ring, today, report)
    numbers = rng.sample(range(30_000_000, 99_999_999), holders_count)
    for start in range(0, holders_count, batch_size):
        with transaction(factory) as session:
            n = _bulk_batch(
                session, ring, rng, numbers[start : start + batch_size], today, sample_every, report
            )
        report.holders += n
        progress(n)
    with transaction(factory) as session:
        audit.record(
            session,
            ACTOR,
            "demo.seed",
            "city",
            reason=f"{report.holders} holders, {len(report.personas)} personas",
        )
    return report
