"""Charge a card for a product of a service: quote with the fee engine, move money, remember.

The holder's part moves purse -> ``revenue:<service>``; the concession's part moves
``concession:<category>`` -> ``revenue:<service>``; both are one LINKED chain, so either both are
recorded or neither. Transfer ids derive from the charge's id, and the charge's id from
(channel, ref): the same request again returns the first answer and moves nothing. The holder's
row is locked first, so two charges of one holder are priced one after the other (caps and
transfers see each other) and a concurrent retry waits for, then finds, the first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, bindparam, select
from sqlalchemy.orm import Session

from card_service.cards import service as cards
from card_service.cards.models import Card
from card_service.cards.purse import spendable_online
from card_service.catalogue import service as catalogue
from card_service.catalogue.errors import from_engine
from card_service.charging import accounts
from card_service.charging.errors import CardNotValid, ChargeIdReused
from card_service.charging.models import Charge
from card_service.entitlements.riders import birth_date
from card_service.entitlements.service import categories_at
from card_service.identity.crypto import Keyring
from card_service.identity.models import Holder
from card_service.ledger.results import Result
from card_service.ledger.schemas import TransferRequest, linked
from card_service.ledger.service import create_transfers
from card_service.protocol import fees
from card_service.protocol.fees import FareRules, Quote, Use
from card_service.protocol.fees.rules import Product, Service

NAMESPACE = uuid.UUID("6f1d7c1e-3b0a-5e55-9a51-0c4a4b1d2c30")
# Ledger transfer codes of the two parts of a charge.
HOLDER_PART = "fare"
CONCESSION_PART = "fare_concession"
# A pass without an end date makes every earlier use of its service relevant.
FOREVER = timedelta(days=366 * 100)


@dataclass(frozen=True)
class Request:
    channel: str  # who asks: the service client's id ("bus-1a2b3c4d"), "desk", ...
    ref: str  # their own id for this charge
    service: str
    card_number: str
    product: str
    quantity: int
    at: datetime


@dataclass(frozen=True)
class Outcome:
    charge: Charge
    replayed: bool

    @property
    def ok(self) -> bool:
        return self.charge.status == "ok"


def charge_id(channel: str, ref: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{channel}\n{ref}")


def _same(c: Charge, req: Request) -> bool:
    return (c.service, c.card_number, c.product, c.quantity) == (
        req.service,
        req.card_number,
        req.product,
        req.quantity,
    )


def _existing(session: Session, cid: uuid.UUID, req: Request) -> Outcome | None:
    found = session.scalars(
        select(Charge).where(Charge.id == cid).execution_options(populate_existing=True)
    ).one_or_none()
    if found is None:
        return None
    if not _same(found, req):
        raise ChargeIdReused(f"charge id {req.ref!r} was used for another charge")
    return Outcome(found, replayed=True)


def valid_card(card: Card, today: date) -> bool:
    return card.status == "active" and card.expires_on >= today


def lookback(svc: Service) -> timedelta:
    """How far back a holder's uses of ``svc`` can change a price now."""
    span = timedelta(0)
    if svc.transfer_window is not None:
        span = max(span, svc.transfer_window)
    if svc.cap_week_cents is not None:
        span = max(span, timedelta(days=8))
    elif svc.cap_day_cents is not None:
        span = max(span, timedelta(days=2))
    for product in svc.products.values():
        if product.pass_terms is not None:
            span = max(span, product.pass_terms.valid or FOREVER)
    return span


_C = Charge.__table__.c
_RECENT = (
    select(_C.service, _C.product, _C.at, _C.price_cents, _C.holder_cents, _C.rule)
    .where(
        _C.holder_id == bindparam("holder_id"),
        _C.service == bindparam("service"),
        _C.at >= bindparam("since", type_=DateTime(timezone=True)),
        _C.at <= bindparam("at", type_=DateTime(timezone=True)),
        _C.status == "ok",
    )
    .order_by(_C.at)
)


def recent_uses(session: Session, holder_id: int, svc: Service, at: datetime) -> Sequence[Use]:
    """The holder's charged uses of ``svc`` that can matter at ``at``, oldest first."""
    span = lookback(svc)
    if not span:
        return ()
    at = _utc(at)
    params = {"holder_id": holder_id, "service": svc.code, "since": at - span, "at": at}
    return [
        Use(r[0], r[1], _utc(r[2]), r[3], r[4], r[5])
        for r in session.connection().execute(_RECENT, params)
    ]


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def price(
    session: Session,
    rules: FareRules,
    holder_id: int,
    birth_date: Callable[[], date | None],
    req: Request,
) -> Quote:
    """What this use would cost the holder now (the engine's quote); nothing is written.
    ``birth_date`` is called only when the product has an age concession."""
    svc, product = lookup(rules, req.service, req.product)
    rider = fees.Rider(
        birth_date=birth_date() if product.needs_age else None,
        categories=categories_at(session, holder_id, req.at),
    )
    recent = recent_uses(session, holder_id, svc, req.at)
    try:
        return fees.quote(rules, rider, req.service, req.product, req.at, recent, req.quantity)
    except fees.FeeError as exc:
        raise from_engine(exc) from exc


def lookup(rules: FareRules, service: str, product: str) -> tuple[Service, Product]:
    """The service and its product, or the named error (a product of another service too)."""
    found = catalogue.product(rules, service, product)
    return rules.services[service], found


def charge(
    session: Session, ring: Keyring, rules: FareRules, req: Request, tz: ZoneInfo
) -> Outcome:
    at = _utc(req.at)
    req = Request(req.channel, req.ref, req.service, req.card_number, req.product, req.quantity, at)
    cid = charge_id(req.channel, req.ref)
    found = _existing(session, cid, req)
    if found is not None:
        return found
    card = cards.get(session, req.card_number)
    holder = session.scalars(
        select(Holder).where(Holder.id == card.holder_id).with_for_update()
    ).one()
    found = _existing(session, cid, req)  # a concurrent first attempt committed meanwhile
    if found is not None:
        return found
    day = at.astimezone(tz).date()
    if not valid_card(card, day) or holder.status != "active":
        raise CardNotValid("this card is not valid and active")
    quote = price(session, rules, holder.id, lambda: birth_date(session, ring, holder), req)
    transfers = _transfers(session, holder, quote, cid)
    refusal = None
    if quote.holder_cents > 0 and _short(session, holder, quote.holder_cents):
        refusal = "insufficient_funds"  # online: the purse's offline allowance is not spent here
    elif transfers:
        results = create_transfers(session, transfers)
        failed = [r.result for r in results if not r.ok and r.result != Result.LINKED_EVENT_FAILED]
        if failed or not all(r.ok for r in results):
            refusal = _refusal(failed[0] if failed else Result.LINKED_EVENT_FAILED)
    by_code = {t.code: t.id for t in transfers}
    row = Charge(
        id=cid,
        channel=req.channel,
        ref=req.ref,
        service=req.service,
        product=req.product,
        quantity=req.quantity,
        holder_id=holder.id,
        card_number=card.number,
        at=at,
        day=day,
        status="refused" if refusal else "ok",
        refusal=refusal,
        price_cents=quote.price_cents,
        holder_cents=quote.holder_cents,
        concession_cents=quote.concession_cents,
        concession_category=quote.concession_category,
        rule=quote.rule,
        catalogue_version=rules.version,
        holder_transfer_id=None if refusal else by_code.get(HOLDER_PART),
        concession_transfer_id=None if refusal else by_code.get(CONCESSION_PART),
    )
    session.add(row)
    session.flush()
    return Outcome(row, replayed=False)


def _transfers(
    session: Session, holder: Holder, quote: Quote, cid: uuid.UUID
) -> list[TransferRequest]:
    revenue = accounts.revenue(session, quote.service)
    out = []
    note = f"{quote.service}.{quote.product}"[:128]
    if quote.holder_cents > 0:
        purse = cards.ensure_purse(session, holder)
        out.append(
            TransferRequest(
                id=uuid.uuid5(cid, "holder"),
                debit_account_id=purse,
                credit_account_id=revenue,
                amount_cents=quote.holder_cents,
                code=HOLDER_PART,
                user_data=note,
            )
        )
    if quote.concession_cents > 0:
        assert quote.concession_category is not None
        out.append(
            TransferRequest(
                id=uuid.uuid5(cid, "concession"),
                debit_account_id=accounts.concession(session, quote.concession_category),
                credit_account_id=revenue,
                amount_cents=quote.concession_cents,
                code=CONCESSION_PART,
                user_data=note,
            )
        )
    return linked(out)


def _short(session: Session, holder: Holder, cents: int) -> bool:
    assert holder.purse_account_id is not None  # _transfers opened it
    return spendable_online(session, holder.purse_account_id) < cents


def _refusal(result: Result) -> str:
    if result is Result.EXCEEDS_CREDITS:
        return "insufficient_funds"
    return result.value
