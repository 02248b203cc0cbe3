"""Auto top-up: a saved card pays a fixed amount when a settlement takes the purse below a
threshold, as transit riders know it.

Saving: ``start_setup`` makes the holder a Stripe customer (no personal data: the pseudonym only)
and a SetupIntent the browser confirms on Stripe's element; ``save`` checks that SetupIntent is
this holder's and keeps its payment method. Paying: settlement calls ``after_purse_debits`` (registered
in card_service/terminals/hooks.py) inside its own transaction; it only queues a top-up whose id derives from the purse and the debit that
triggered it, so the same debit seen twice queues once. The worker (``run_queued``) makes the
off-session payment with that id as idempotency key. After ``auto_topup_max_failures`` failed
payments in a row auto top-up switches itself off, with the reason kept for the holder.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

import stripe
from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, cast, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import NullType

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.config import Settings
from card_service.db import transaction
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.me.service import own_card
from card_service.payments import accounts, gateway, topups
from card_service.payments.errors import (
    AutoTopUpNotSet,
    PaymentMethodInvalid,
    PurseLimitExceeded,
    StripeRefused,
    StripeUnavailable,
    TopUpBelowMinimum,
)
from card_service.payments.models import AutoTopUp, TopUp
from card_service.staff.roles import utcnow

log = logging.getLogger(__name__)
SYSTEM = Actor.system("payments.auto_topup")


def start_setup(
    factory: sessionmaker[Session], settings: Settings, card_id: int | None
) -> dict[str, Any]:
    """A SetupIntent for the browser to confirm with the card on Stripe's element."""
    client = gateway.client(settings)
    with transaction(factory) as s:
        card, holder = own_card(s, card_id)
        topups.check_card(card)
        auto = s.get(AutoTopUp, holder.id)
        pseudonym, customer = holder.pseudonym, auto.stripe_customer_id if auto else None
        holder_id = holder.id
    if customer is None:
        created = gateway.call(
            lambda: client.v1.customers.create(
                params={"metadata": {"holder": pseudonym}},
                options={"idempotency_key": f"customer-{pseudonym}"},
            )
        )
        customer = created.id
        with transaction(factory) as s:
            if s.get(AutoTopUp, holder_id) is None:
                s.add(
                    AutoTopUp(
                        holder_id=holder_id,
                        stripe_customer_id=customer,
                        enabled=False,
                        threshold_cents=0,
                        amount_cents=0,
                        consecutive_failures=0,
                        updated_at=utcnow(),
                    )
                )
    params: Any = {"customer": customer, "usage": "off_session", "metadata": {"holder": pseudonym}}
    intent = gateway.call(lambda: client.v1.setup_intents.create(params=params))
    return {
        "setup_intent_id": intent.id,
        "client_secret": intent.client_secret,
        "publishable_key": settings.stripe_publishable_key,
    }


def _check_amounts(settings: Settings, threshold: int, amount: int) -> None:
    if amount < settings.topup_min_cents:
        raise TopUpBelowMinimum(f"an auto top-up is at least {settings.topup_min_cents} cents")
    if threshold < 0 or threshold + amount > settings.purse_max_cents:
        raise PurseLimitExceeded(
            f"threshold + amount may not exceed the purse maximum of {settings.purse_max_cents}"
        )


def save(
    factory: sessionmaker[Session],
    settings: Settings,
    actor: Actor,
    card_id: int | None,
    setup_intent_id: str,
    threshold: int,
    amount: int,
) -> AutoTopUp:
    """Keep the payment method of a confirmed SetupIntent, and switch auto top-up on."""
    _check_amounts(settings, threshold, amount)
    client = gateway.client(settings)
    with transaction(factory) as s:
        _card, holder = own_card(s, card_id)
        auto = s.get(AutoTopUp, holder.id)
        if auto is None:
            raise AutoTopUpNotSet("start with POST /v1/me/auto-topup/setup")
        customer = auto.stripe_customer_id
    intent = gateway.call(lambda: client.v1.setup_intents.retrieve(setup_intent_id))
    method_id = gateway.object_id(intent.payment_method)
    if gateway.object_id(intent.customer) != customer or intent.status != "succeeded":
        raise PaymentMethodInvalid("this SetupIntent is not a confirmed one of this holder")
    assert method_id is not None
    method = gateway.call(lambda: client.v1.payment_methods.retrieve(method_id))
    owner = gateway.object_id(method.customer)
    if owner is None:  # Stripe attaches on confirmation; localstripe does not
        method = gateway.call(
            lambda: client.v1.payment_methods.attach(method_id, params={"customer": customer})
        )
    elif owner != customer:
        raise PaymentMethodInvalid("this payment method belongs to someone else")
    card = gateway.plain(method).get("card") or {}
    label = f"{card.get('brand', method.type)} {card.get('last4', '')}".strip()[:48]
    with transaction(factory) as s:
        auto = s.get(AutoTopUp, holder.id, with_for_update=True)
        assert auto is not None
        auto.payment_method_id, auto.payment_method_label = method_id, label
        auto.threshold_cents, auto.amount_cents = threshold, amount
        auto.enabled, auto.consecutive_failures, auto.disabled_reason = True, 0, None
        auto.updated_at = utcnow()
        audit.record(
            s, actor, "payments.auto_topup", f"holder:{holder.pseudonym}",
            reason=f"below {threshold} add {amount} ({label})",
        )  # fmt: skip
    return auto


def disable(session: Session, actor: Actor, holder: Holder) -> AutoTopUp:
    auto = session.get(AutoTopUp, holder.id)
    if auto is None or auto.payment_method_id is None:
        raise AutoTopUpNotSet("auto top-up was never set up")
    auto.enabled, auto.disabled_reason, auto.updated_at = False, None, utcnow()
    session.flush()
    audit.record(session, actor, "payments.auto_topup_off", f"holder:{holder.pseudonym}")
    return auto


def after_purse_debit(
    session: Session, purse_account_id: int, balance_cents: int, trigger: str
) -> TopUp | None:
    """Settlement's hook: call it in the transaction that debited the purse, with the purse's
    balance after the debit and a string naming that debit (its ledger transfer id). Below the
    holder's threshold it queues one auto top-up (none while another is on its way); the worker
    pays it. The same trigger queues the same top-up, once. Never calls Stripe itself."""
    holder = session.scalars(
        select(Holder).where(Holder.purse_account_id == purse_account_id)
    ).one_or_none()
    if holder is None:
        return None
    auto = session.get(AutoTopUp, holder.id)
    if auto is None or not auto.enabled or balance_cents >= auto.threshold_cents:
        return None
    topup_id = accounts.transfer_id("auto", purse_account_id, trigger)
    existing = session.get(TopUp, topup_id)
    if existing is not None:
        return existing
    busy = session.scalar(
        select(TopUp.id).where(
            TopUp.holder_id == holder.id, TopUp.kind == "auto", TopUp.status.in_(topups.OPEN)
        )
    )
    if busy is not None:
        return None
    try:
        with session.begin_nested():
            topup = topups._new(session, holder, None, topup_id, "auto", auto.amount_cents)
            topup.trigger = trigger[:80]
            session.flush()
    except IntegrityError:  # the same trigger, queued at this moment by another transaction
        return session.get(TopUp, topup_id)
    return topup


HOOK_CHUNK = 500


def _purse_in(session: Session, ids: list[int]) -> list[ColumnElement[bool]]:
    """``purse_account_id IN ids``: on PostgreSQL one array parameter, sent as a literal (a
    statement with thousands of placeholders costs the driver more to convert than to run)."""
    if session.get_bind().dialect.name == "postgresql":
        literal = bindparam(None, "{" + ",".join(map(str, ids)) + "}", type_=NullType())
        return [Holder.purse_account_id == any_(cast(literal, ARRAY(BigInteger())))] if ids else []
    column = Holder.purse_account_id
    return [column.in_(ids[at : at + HOOK_CHUNK]) for at in range(0, len(ids), HOOK_CHUNK)]


def after_purse_debits(session: Session, purse_account_ids: Sequence[int]) -> None:
    """Settlement's hook (card_service/terminals/hooks.py), once per settled batch with the
    purses it debited: one query finds the few of them with auto top-up on; each of those below
    its threshold gets ``after_purse_debit`` with the purse's total debits as the trigger. A batch
    sent again debits nothing new, so it names the same trigger and queues nothing new."""
    ids = list(purse_account_ids)
    for cond in _purse_in(session, ids):
        purses = session.scalars(
            select(Holder.purse_account_id)
            .join(AutoTopUp, AutoTopUp.holder_id == Holder.id)
            .where(cond, AutoTopUp.enabled.is_(True))
        ).all()
        for purse in purses:
            if purse is None:
                continue
            now = ledger.balance(session, purse)
            after_purse_debit(session, purse, now.balance_cents, f"debits:{now.debits_posted}")


def record_failure(session: Session, settings: Settings, holder_id: int, reason: str) -> None:
    """One more failed auto top-up; at the limit, switch it off and say why."""
    auto = session.get(AutoTopUp, holder_id, with_for_update=True)
    if auto is None:
        return
    auto.consecutive_failures += 1
    auto.updated_at = utcnow()
    if auto.enabled and auto.consecutive_failures >= settings.auto_topup_max_failures:
        auto.enabled = False
        auto.disabled_reason = (
            f"Auto top-up is off: the last {auto.consecutive_failures} payments with "
            f"{auto.payment_method_label or 'your card'} failed ({reason}). "
            "Set it up again with a card that works."
        )[:256]
        holder = session.get(Holder, holder_id)
        target = f"holder:{holder.pseudonym}" if holder else f"holder_id:{holder_id}"
        audit.record(session, SYSTEM, "payments.auto_topup_off", target, reason=reason[:200])
    session.flush()


def charge(factory: sessionmaker[Session], settings: Settings, topup_id: uuid.UUID) -> str:
    """Pay one queued auto top-up off-session; returns its status afterwards."""
    client = gateway.client(settings)
    with transaction(factory) as s:
        topup = s.get(TopUp, topup_id)
        if topup is None or topup.status != "queued":
            return topup.status if topup else "missing"
        auto = s.get(AutoTopUp, topup.holder_id)
        holder = s.get(Holder, topup.holder_id)
        assert holder is not None
        if auto is None or not auto.enabled or auto.payment_method_id is None:
            topup.status, topup.updated_at = "canceled", utcnow()
            return "canceled"
        params: Any = {
            "amount": topup.amount_cents,
            "currency": settings.payments_currency,
            "customer": auto.stripe_customer_id,
            "payment_method": auto.payment_method_id,
            "confirm": True,
            "off_session": True,
            "metadata": {"topup_id": str(topup.id), "holder": holder.pseudonym, "kind": "auto"},
        }
    try:
        intent = gateway.call(
            lambda: client.v1.payment_intents.create(
                params=params, options={"idempotency_key": f"topup-{topup_id}"}
            )
        )
    except StripeUnavailable:
        log.warning("auto top-up %s: Stripe unavailable, stays queued", topup_id)
        return "queued"
    except (stripe.CardError, StripeRefused) as exc:
        error = getattr(exc, "error", None)
        code = str(getattr(error, "decline_code", None) or getattr(exc, "code", None) or "")
        intent_id = gateway.object_id(getattr(error, "payment_intent", None))
        with transaction(factory) as s:
            topup = s.get(TopUp, topup_id, with_for_update=True)
            assert topup is not None
            if topup.status == "queued":
                topup.status, topup.failure_code = "failed", (code or "refused")[:64]
                topup.failure_message = str(getattr(exc, "user_message", None) or exc)[:256]
                topup.stripe_payment_intent_id = topup.stripe_payment_intent_id or intent_id
                topup.updated_at = utcnow()
                record_failure(s, settings, topup.holder_id, topup.failure_message)
        return "failed"
    with transaction(factory) as s:
        topup = s.get(TopUp, topup_id, with_for_update=True)
        assert topup is not None
        if topup.stripe_payment_intent_id is None:
            topup.stripe_payment_intent_id = intent.id
        data = gateway.plain(intent)
        if intent.status == "succeeded":
            topups.credit(s, settings, topup, intent.amount, gateway.charge_of(data))
        elif intent.status == "processing":
            topup.status = "pending"
        elif topup.status == "queued":
            topup.status, topup.failure_code = "failed", "authentication_required"
            topup.failure_message = "the bank wants the holder present to confirm this payment"
            record_failure(s, settings, topup.holder_id, topup.failure_message)
        topup.updated_at = utcnow()
        return topup.status


def run_queued(factory: sessionmaker[Session], settings: Settings, limit: int = 100) -> int:
    """Pay every queued auto top-up (the worker's round); how many were tried."""
    with factory() as s:
        ids = list(
            s.scalars(
                select(TopUp.id)
                .where(TopUp.kind == "auto", TopUp.status == "queued")
                .order_by(TopUp.created_at)
                .limit(limit)
            )
        )
    for topup_id in ids:
        charge(factory, settings, topup_id)
    return len(ids)
