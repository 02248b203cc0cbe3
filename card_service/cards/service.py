"""Card issuance and lifecycle: requested -> active -> blocked -> replaced | expired | revoked.

The purse belongs to the holder (opened in the ledger at the first issuance), so a replacement
card reaches the same balance at once. Every move onto or off the deny list is written in the same
transaction as the status change.
"""

from __future__ import annotations

from datetime import date, timedelta

from argon2 import PasswordHasher
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.cards import luhn
from card_service.cards.debt import DEBT_REASON, owed_cents
from card_service.cards.deny_list import commit_key
from card_service.cards.errors import (
    CardAlreadyActive,
    CardAlreadyBlocked,
    CardExpired,
    CardNotBlocked,
    CardNotFound,
    CardNotRenewable,
    CardStateInvalid,
    ChipUidTaken,
)
from card_service.cards.models import Card, DenyListChange
from card_service.cards.purse import OFFLINE_FLOOR_CENTS
from card_service.cards.schemas import CardOut
from card_service.identity import service as holders
from card_service.identity.models import Holder
from card_service.ledger.schemas import AccountFlags
from card_service.ledger.service import open_account
from card_service.staff.errors import Forbidden
from card_service.staff.roles import Role, utcnow

# A PIN's strength is the three-try block, not the hash: 10^4..10^6 PINs fall to any offline
# search whatever the cost. OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane) keeps a stolen
# table from being free to read, at ~30 ms a check instead of ~200 ms (the kiosk must show the
# home screen within 300 ms of the PIN; docs/decisions/0009). Hashes made with other parameters
# still verify: the parameters travel in each hash.
pins = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
PIN_BLOCKED = -1  # pin_failures value once the PIN is blocked
UNBLOCKABLE = {"lost", "stolen", "fraud"}  # a found card; a damaged one is replaced instead


def purse_code(pseudonym: str) -> str:
    return f"purse:{pseudonym}"


def ensure_purse(session: Session, holder: Holder) -> int:
    if holder.purse_account_id is None:
        account = open_account(
            session,
            code=purse_code(holder.pseudonym),
            kind="purse",
            flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            floor_cents=OFFLINE_FLOOR_CENTS,
        )
        holder.purse_account_id = account.id
        session.flush()
    return holder.purse_account_id


def get(session: Session, number: str, *, lock: bool = False) -> Card:
    if not luhn.is_valid(number):
        raise CardNotFound("not a card number: 16 digits with a valid check digit")
    stmt = select(Card).where(Card.number == number)
    card = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if card is None:
        raise CardNotFound("no card has this number")
    return card


def view(session: Session, card: Card) -> CardOut:
    holder = session.get(Holder, card.holder_id)
    assert holder is not None
    replaces = (
        session.scalar(select(Card.number).where(Card.id == card.replaces_id))
        if card.replaces_id
        else None
    )
    return CardOut(
        number=card.number,
        holder_id=holder.pseudonym,
        status=card.status,
        block_reason=card.block_reason,
        chip_uid=card.chip_uid,
        expires_on=card.expires_on,
        issued_at=card.issued_at,
        pin_set=card.pin_hash is not None,
        pin_blocked=card.pin_failures == PIN_BLOCKED,
        replaces=replaces,
        deny_listed=_listed(session, card),
        holder_debt_cents=owed_cents(session, holder),
    )


def _deny(session: Session, card: Card, action: str, reason: str) -> None:
    session.add(
        DenyListChange(
            card_id=card.id,
            card_number=card.number,
            chip_uid=card.chip_uid,
            action=action,
            reason=reason,
            at=utcnow(),
            commit_key=commit_key(session),
        )
    )


def _listed(session: Session, card: Card) -> bool:
    last = session.scalar(
        select(DenyListChange.action)
        .where(DenyListChange.card_id == card.id)
        .order_by(DenyListChange.position.desc())
        .limit(1)
    )
    return last == "add"


def deny_holder(session: Session, holder_id: int, reason: str) -> int:
    """Put the holder's live cards on the deny list (payments: a purse below zero after a
    chargeback); a card on the list already stays as it is. Returns how many were added."""
    added = 0
    for card in cards_of(session, holder_id):
        if card.status in ("requested", "active") and not _listed(session, card):
            _deny(session, card, "add", reason)
            added += 1
    session.flush()
    return added


def allow_holder(session: Session, holder_id: int, reason: str) -> int:
    """Take the holder's live cards off the deny list again (payments: the purse is settled).
    Blocked, replaced or expired cards stay denied. Returns how many were removed."""
    removed = 0
    for card in cards_of(session, holder_id):
        if card.status in ("requested", "active") and _listed(session, card):
            _deny(session, card, "remove", reason)
            removed += 1
    session.flush()
    return removed


def _carry_debt(session: Session, card: Card, holder: Holder) -> int:
    """A new card of a holder in debt starts on the deny list (cards/debt.py); what is owed."""
    owed = owed_cents(session, holder)
    if owed:
        _deny(session, card, "add", DEBT_REASON)
        session.flush()
    return owed


def _debt_note(owed: int) -> str:
    return f"; on the deny list until the holder's debt of {owed} cents is paid" if owed else ""


def expiry(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year + years)
    except ValueError:  # 29 February
        return today.replace(year=today.year + years, day=28)


def _new_card(
    session: Session,
    actor: Actor,
    holder: Holder,
    *,
    chip_uid: str | None,
    pin_hash: str | None,
    today: date,
    validity_years: int,
    replaces: Card | None = None,
) -> Card:
    if chip_uid and session.scalar(select(Card.id).where(Card.chip_uid == chip_uid)):
        raise ChipUidTaken("another card has this chip")
    now = utcnow()
    for _ in range(5):
        number = luhn.new_number()
        if session.scalar(select(Card.id).where(Card.number == number)) is None:
            break
    card = Card(
        number=number,
        chip_uid=chip_uid,
        holder_id=holder.id,
        status="active" if chip_uid else "requested",
        expires_on=expiry(today, validity_years),
        replaces_id=replaces.id if replaces else None,
        pin_hash=pin_hash,
        pin_failures=0,
        issued_by=actor.staff_id,
        issued_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(card)
            session.flush()
    except IntegrityError as exc:
        raise CardAlreadyActive("this holder has a live card already") from exc
    return card


def _live_card(session: Session, holder_id: int) -> Card | None:
    return session.scalars(
        select(Card).where(Card.holder_id == holder_id, Card.status.in_(("requested", "active")))
    ).first()


def issue(
    session: Session,
    actor: Actor,
    pseudonym: str,
    *,
    chip_uid: str | None,
    pin: str | None,
    today: date,
    validity_years: int,
) -> Card:
    """A new card for a holder with no live card; the purse is opened at the first issuance."""
    holder = holders.get_live(session, pseudonym, lock=True)
    if _live_card(session, holder.id) is not None:
        raise CardAlreadyActive("this holder has a live card: block or renew it instead")
    ensure_purse(session, holder)
    card = _new_card(
        session,
        actor,
        holder,
        chip_uid=chip_uid,
        pin_hash=pins.hash(pin) if pin else None,
        today=today,
        validity_years=validity_years,
    )
    owed = _carry_debt(session, card, holder)
    audit.record(
        session, actor, "card.issue", f"card:{card.number}",
        reason=f"holder:{holder.pseudonym}{_debt_note(owed)}",
    )  # fmt: skip
    return card


def activate(session: Session, actor: Actor, number: str, chip_uid: str) -> Card:
    card = get(session, number, lock=True)
    if card.status != "requested":
        raise CardStateInvalid(f"only a requested card is activated; this one is {card.status}")
    if session.scalar(select(Card.id).where(Card.chip_uid == chip_uid)):
        raise ChipUidTaken("another card has this chip")
    card.chip_uid, card.status, card.updated_at = chip_uid, "active", utcnow()
    session.flush()
    audit.record(session, actor, "card.activate", f"card:{number}")
    return card


def block(session: Session, actor: Actor, number: str, reason: str) -> Card:
    card = get(session, number, lock=True)
    if card.status == "blocked":
        raise CardAlreadyBlocked(f"the card is blocked already ({card.block_reason})")
    if card.status not in ("requested", "active"):
        raise CardStateInvalid(f"a {card.status} card cannot be blocked")
    card.status, card.block_reason, card.updated_at = "blocked", reason, utcnow()
    _deny(session, card, "add", reason)
    session.flush()
    audit.record(session, actor, "card.block", f"card:{number}", reason=reason)
    return card


def unblock(session: Session, actor: Actor, number: str, today: date) -> Card:
    """A found card comes back: a supervisor's decision."""
    if actor.role != Role.SUPERVISOR:
        raise Forbidden("only a supervisor unblocks a card")
    card = get(session, number, lock=True)
    if card.status != "blocked":
        raise CardNotBlocked(f"the card is {card.status}, not blocked")
    if card.block_reason not in UNBLOCKABLE:
        raise CardStateInvalid(f"a card blocked as {card.block_reason} is replaced, not unblocked")
    if card.expires_on < today:
        raise CardExpired("the card has expired: issue a new one")
    if _live_card(session, card.holder_id) is not None:
        raise CardAlreadyActive("the holder has another live card")
    reason = card.block_reason or ""
    holder = session.get(Holder, card.holder_id)
    assert holder is not None
    owed = owed_cents(session, holder)
    card.status, card.block_reason, card.updated_at = "active", None, utcnow()
    if not owed:  # in debt, the card stays listed until payments settles the debt
        _deny(session, card, "remove", "found")
    session.flush()
    audit.record(
        session, actor, "card.unblock", f"card:{number}",
        reason=f"found ({reason}){_debt_note(owed)}",
    )  # fmt: skip
    return card


def replace(
    session: Session,
    actor: Actor,
    number: str,
    *,
    chip_uid: str | None,
    pin: str | None,
    today: date,
    validity_years: int,
) -> Card:
    """A new card for a blocked one: same holder, same purse, the old card stays denied."""
    old = get(session, number, lock=True)
    if old.status != "blocked":
        raise CardStateInvalid(f"block the card before replacing it (it is {old.status})")
    holder = session.get(Holder, old.holder_id)
    assert holder is not None
    holders.get_live(session, holder.pseudonym)
    old.status, old.updated_at = "replaced", utcnow()
    session.flush()
    card = _new_card(
        session,
        actor,
        holder,
        chip_uid=chip_uid,
        pin_hash=pins.hash(pin) if pin else old.pin_hash,
        today=today,
        validity_years=validity_years,
        replaces=old,
    )
    owed = _carry_debt(session, card, holder)
    audit.record(
        session, actor, "card.replace", f"card:{card.number}",
        reason=f"replaces card:{number}{_debt_note(owed)}",
    )  # fmt: skip
    return card


def renew(
    session: Session,
    actor: Actor,
    number: str,
    *,
    chip_uid: str | None,
    today: date,
    validity_years: int,
    window_days: int,
) -> Card:
    """Before it expires, within the renewal window: a new card, the old one goes on the list."""
    old = get(session, number, lock=True)
    if old.status != "active":
        raise CardNotRenewable(f"only an active card is renewed; this one is {old.status}")
    if old.expires_on < today:
        raise CardNotRenewable("the card has expired: issue a new one")
    if old.expires_on - timedelta(days=window_days) > today:
        raise CardNotRenewable(f"renewal opens {window_days} days before {old.expires_on}")
    holder = session.get(Holder, old.holder_id)
    assert holder is not None
    old.status, old.updated_at = "replaced", utcnow()
    _deny(session, old, "add", "renewed")
    session.flush()
    card = _new_card(
        session,
        actor,
        holder,
        chip_uid=chip_uid,
        pin_hash=old.pin_hash,
        today=today,
        validity_years=validity_years,
        replaces=old,
    )
    owed = _carry_debt(session, card, holder)
    audit.record(
        session, actor, "card.renew", f"card:{card.number}",
        reason=f"renews card:{number}{_debt_note(owed)}",
    )  # fmt: skip
    return card


def revoke(session: Session, actor: Actor, number: str, reason: str) -> Card:
    card = get(session, number, lock=True)
    if card.status in ("replaced", "expired", "revoked"):
        raise CardStateInvalid(f"a {card.status} card cannot be revoked")
    if card.status != "blocked":
        _deny(session, card, "add", "revoked")
    card.status, card.updated_at = "revoked", utcnow()
    session.flush()
    audit.record(session, actor, "card.revoke", f"card:{number}", reason=reason)
    return card


def reset_pin(session: Session, actor: Actor, number: str, pin: str) -> Card:
    card = get(session, number, lock=True)
    card.pin_hash, card.pin_failures, card.updated_at = pins.hash(pin), 0, utcnow()
    session.flush()
    audit.record(session, actor, "card.pin_reset", f"card:{number}")
    return card


def _due(today: date) -> tuple[ColumnElement[bool], ...]:
    return Card.expires_on < today, Card.status.in_(("requested", "active", "blocked"))


def any_due(session: Session, today: date) -> bool:
    """Whether ``expire_due`` has anything to do: a read, so on SQLite no write lock is held
    while it scans the cards (a quarter of a second at a million cards)."""
    return session.scalar(select(Card.id).where(*_due(today)).limit(1)) is not None


def expire_due(session: Session, actor: Actor, today: date, limit: int = 5000) -> int:
    """Mark live or blocked cards past their expiry as expired; live ones go on the deny list."""
    due = session.scalars(select(Card).where(*_due(today)).limit(limit).with_for_update()).all()
    for card in due:
        if card.status != "blocked":
            _deny(session, card, "add", "expired")
        card.status, card.updated_at = "expired", utcnow()
        audit.record(session, actor, "card.expire", f"card:{card.number}")
    session.flush()
    return len(due)


def cards_of(session: Session, holder_id: int) -> list[Card]:
    return list(session.scalars(select(Card).where(Card.holder_id == holder_id).order_by(Card.id)))
