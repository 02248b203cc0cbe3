"""Cash at kiosks: a cash top-up credits the purse from the kiosk's cash account at once; closing
the kiosk's day empties that account into ``cash_banked`` (what was counted) and
``cash_differences`` (what was missing or over), and reports the difference.

A kiosk is named by its id string here; its enrolment and authentication belong to the
terminals work, and the HTTP layer takes the kiosk's identity as a replaceable dependency.
Close a kiosk's day while it takes no cash: the expected amount is its account's balance.
"""

from __future__ import annotations

import re
import uuid
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.cards import service as cards
from card_service.config import Settings
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.ledger.results import TransferRejected
from card_service.ledger.schemas import TransferRequest
from card_service.payments import accounts, debts, topups
from card_service.payments.errors import CashAmountInvalid, KioskIdInvalid, RequestIdReused
from card_service.payments.models import KioskCashTopUp, KioskClosing
from card_service.staff.roles import utcnow

KIOSK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")


def _check_kiosk(kiosk_id: str) -> None:
    if not KIOSK_ID.match(kiosk_id):
        raise KioskIdInvalid("a kiosk id is 1-48 letters, digits, '.', '_' or '-'")


def cash_topup(
    session: Session,
    settings: Settings,
    actor: Actor,
    kiosk_id: str,
    request_id: uuid.UUID,
    card_number: str,
    amount: int,
) -> tuple[KioskCashTopUp, int]:
    """Credit cash paid in at a kiosk; returns the top-up and the purse balance after it."""
    _check_kiosk(kiosk_id)
    done = session.get(KioskCashTopUp, request_id)
    if done is not None:
        if done.kiosk_id != kiosk_id or done.amount_cents != amount:
            raise RequestIdReused("this request id was used for another cash top-up")
        holder = session.get(Holder, done.holder_id)
        assert holder is not None
        return done, debts.balances(session, holder).balance_cents
    card = cards.get(session, "".join(card_number.split()))
    topups.check_card(card)
    holder = session.get(Holder, card.holder_id)
    assert holder is not None
    if amount <= 0:
        raise CashAmountInvalid("cash paid in is a positive number of cents")
    topups.check_limits(session, settings, holder, amount)
    cash = accounts.account_id(session, accounts.kiosk_cash(kiosk_id), "kiosk_cash")
    request = TransferRequest(
        accounts.transfer_id("cash", kiosk_id, request_id),
        cash,
        debts.purse_of(session, holder),
        amount,
        accounts.TOPUP_CASH,
        f"kiosk:{kiosk_id}",
    )
    result = ledger.create_transfers(session, [request])[0]
    if not result.ok:
        raise TransferRejected(result.result, result.id)
    row = KioskCashTopUp(
        id=request_id,
        kiosk_id=kiosk_id,
        holder_id=holder.id,
        card_id=card.id,
        amount_cents=amount,
        transfer_id=request.id,
        at=utcnow(),
        by=actor.id[:64],
    )
    session.add(row)
    session.flush()
    if not result.replayed:
        debts.settle(session, holder, request.id)
    return row, debts.balances(session, holder).balance_cents


def close_day(
    session: Session,
    actor: Actor,
    kiosk_id: str,
    request_id: uuid.UUID,
    counted: int,
    business_date: date,
) -> KioskClosing:
    """Count the kiosk's cash: bank what was counted, book the difference, report it."""
    _check_kiosk(kiosk_id)
    done = session.get(KioskClosing, request_id)
    if done is not None:
        if done.kiosk_id != kiosk_id or done.counted_cents != counted:
            raise RequestIdReused("this request id was used for another closing")
        return done
    if counted < 0:
        raise CashAmountInvalid("counted cash is 0 or more cents")
    cash = accounts.account_id(session, accounts.kiosk_cash(kiosk_id), "kiosk_cash")
    state = ledger.balance(session, cash)
    expected = state.debits_posted - state.credits_posted  # cash in the box: an asset
    last = session.scalar(
        select(func.max(KioskClosing.closed_at)).where(KioskClosing.kiosk_id == kiosk_id)
    )
    count_query = select(func.count()).where(KioskCashTopUp.kiosk_id == kiosk_id)
    if last is not None:
        count_query = count_query.where(KioskCashTopUp.at > last)
    requests = []
    if counted:
        requests.append(
            TransferRequest(
                accounts.transfer_id("close", request_id, "banked"),
                accounts.account_id(session, accounts.CASH_BANKED, "cash_banked"),
                cash,
                counted,
                accounts.CASH_BANKED_CODE,
                f"kiosk:{kiosk_id}",
            )
        )
    difference = counted - expected
    if difference:
        differences = accounts.account_id(session, accounts.CASH_DIFFERENCES, "cash_differences")
        short = difference < 0
        requests.append(
            TransferRequest(
                accounts.transfer_id("close", request_id, "difference"),
                differences if short else cash,
                cash if short else differences,
                abs(difference),
                accounts.CASH_SHORT if short else accounts.CASH_OVER,
                f"kiosk:{kiosk_id}",
            )
        )
    for result in ledger.create_transfers(session, requests):
        if not result.ok:
            raise TransferRejected(result.result, result.id)
    closing = KioskClosing(
        id=request_id,
        kiosk_id=kiosk_id,
        business_date=business_date,
        topups=int(session.scalar(count_query) or 0),
        expected_cents=expected,
        counted_cents=counted,
        difference_cents=difference,
        closed_at=utcnow(),
        closed_by=actor.id[:64],
    )
    session.add(closing)
    session.flush()
    audit.record(
        session, actor, "payments.kiosk_close", f"kiosk:{kiosk_id}",
        reason=f"expected {expected}, counted {counted}, difference {difference}",
    )  # fmt: skip
    return closing


def closings(session: Session, kiosk_id: str, limit: int = 60) -> list[KioskClosing]:
    return list(
        session.scalars(
            select(KioskClosing)
            .where(KioskClosing.kiosk_id == kiosk_id)
            .order_by(KioskClosing.closed_at.desc())
            .limit(limit)
        )
    )
