"""Payments tables. Money itself is only in the ledger; these rows say where it came from.

``payments_stripe_events`` keeps every verified Stripe event as received, unique on Stripe's id,
before it is processed. Rejected webhooks, kiosk cash top-ups and kiosk closings are append-only
(database triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK, UUIDBytes


class StripeEvent(Base):
    """A verified Stripe event, stored before it is processed (stripe retries until we answer 2xx)."""

    __tablename__ = "payments_stripe_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # evt_...
    type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64), index=True)  # pi_, ch_, dp_...
    created: Mapped[int] = mapped_column(BigInteger)  # Stripe's time (s)
    payload: Mapped[str] = mapped_column(Text)  # the body exactly as signed
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deliveries: Mapped[int] = mapped_column(Integer, default=1)
    # NULL until processed; then applied | ignored. A failed attempt leaves it NULL with an error.
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(256))


class WebhookRejection(Base):
    """A webhook refused before storing: no signature, a wrong one, or a body that is no event."""

    __tablename__ = "payments_webhook_rejections"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    code: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(256))
    body_sha256: Mapped[str] = mapped_column(String(64))
    body_size: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str | None] = mapped_column(String(256))


class TopUp(Base):
    """One payment into a purse through Stripe: online (the holder pays on Stripe's page) or auto
    (off-session, with the saved payment method). The id is the client's request id."""

    __tablename__ = "payments_topups"

    id: Mapped[uuid.UUID] = mapped_column(UUIDBytes, primary_key=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("identity_holders.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    kind: Mapped[str] = mapped_column(String(8))  # online | auto
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # creating | pending | queued | succeeded | failed | canceled
    status: Mapped[str] = mapped_column(String(16))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(64))
    # Credited to the purse (cents Stripe received); set once, with the ledger transfer.
    credited_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(256))
    # Auto top-up: what triggered it (the purse debit), for the idempotency key.
    trigger: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Refund(Base):
    """Part of a payment given back. One request may refund several payments, newest first."""

    __tablename__ = "payments_refunds"

    id: Mapped[uuid.UUID] = mapped_column(UUIDBytes, primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(UUIDBytes, index=True)
    topup_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments_topups.id"), index=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("identity_holders.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # requested | succeeded | failed
    stripe_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    origin: Mapped[str] = mapped_column(String(8))  # holder | clerk | stripe
    requested_by: Mapped[str] = mapped_column(String(64))
    failure: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Dispute(Base):
    """A chargeback: Stripe took the payment back from us, so it comes out of the purse."""

    __tablename__ = "payments_disputes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # dp_...
    topup_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments_topups.id"), index=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("identity_holders.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # What the purse paid, and what it could not (the holder's debt, below zero).
    from_purse_cents: Mapped[int] = mapped_column(BigInteger)
    debt_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(24))  # Stripe's: needs_response, won, lost...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AutoTopUp(Base):
    """A holder's standing order: below ``threshold_cents`` pay ``amount_cents`` off-session."""

    __tablename__ = "payments_auto_topups"

    holder_id: Mapped[int] = mapped_column(
        ForeignKey("identity_holders.id"), primary_key=True, autoincrement=False
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(64), unique=True)
    payment_method_id: Mapped[str | None] = mapped_column(String(64))
    payment_method_label: Mapped[str | None] = mapped_column(String(48))  # "visa 4242"
    threshold_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # Why it switched itself off; shown to the holder until they set it up again.
    disabled_reason: Mapped[str | None] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class KioskCashTopUp(Base):
    """Cash paid in at a kiosk; the id is the kiosk's request id."""

    __tablename__ = "payments_kiosk_cash"

    id: Mapped[uuid.UUID] = mapped_column(UUIDBytes, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(48), index=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("identity_holders.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[uuid.UUID] = mapped_column(UUIDBytes)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(64))


class KioskClosing(Base):
    """A kiosk's day closed: the cash the ledger expected, what was counted, the difference."""

    __tablename__ = "payments_kiosk_closings"

    id: Mapped[uuid.UUID] = mapped_column(UUIDBytes, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(48), index=True)
    business_date: Mapped[date] = mapped_column(Date)
    topups: Mapped[int] = mapped_column(Integer)
    expected_cents: Mapped[int] = mapped_column(BigInteger)
    counted_cents: Mapped[int] = mapped_column(BigInteger)
    difference_cents: Mapped[int] = mapped_column(BigInteger)  # counted - expected
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str] = mapped_column(String(64))
