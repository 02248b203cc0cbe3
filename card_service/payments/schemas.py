"""Payments requests and answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from card_service.payments.models import AutoTopUp, KioskClosing, Refund, TopUp


class TopUpIn(BaseModel):
    request_id: uuid.UUID = Field(description="the client's id for this top-up: retry with it")
    amount_cents: int


class TopUpOut(BaseModel):
    id: uuid.UUID
    kind: str
    amount_cents: int
    status: str = Field(description="creating, pending, queued, succeeded, failed or canceled")
    failure_code: str | None = None
    failure_message: str | None = None
    payment_intent_id: str | None = None
    client_secret: str | None = Field(
        None, description="for Stripe's payment element in the browser (pending top-ups)"
    )
    publishable_key: str | None = None
    created_at: datetime

    @classmethod
    def of(
        cls, t: TopUp, client_secret: str | None = None, publishable_key: str | None = None
    ) -> TopUpOut:
        return cls(
            id=t.id,
            kind=t.kind,
            amount_cents=t.amount_cents,
            status=t.status,
            failure_code=t.failure_code,
            failure_message=t.failure_message,
            payment_intent_id=t.stripe_payment_intent_id,
            client_secret=client_secret,
            publishable_key=publishable_key if client_secret else None,
            created_at=t.created_at,
        )


class RefundIn(BaseModel):
    request_id: uuid.UUID
    amount_cents: int | None = Field(None, description="None: everything refundable")


class DeskRefundIn(RefundIn):
    reason: str = Field(max_length=200)


class RefundOut(BaseModel):
    id: uuid.UUID
    topup_id: uuid.UUID
    amount_cents: int
    status: str = Field(description="requested, succeeded or failed")
    origin: str
    stripe_refund_id: str | None
    failure: str | None
    created_at: datetime

    @classmethod
    def of(cls, r: Refund) -> RefundOut:
        return cls(
            id=r.id,
            topup_id=r.topup_id,
            amount_cents=r.amount_cents,
            status=r.status,
            origin=r.origin,
            stripe_refund_id=r.stripe_refund_id,
            failure=r.failure,
            created_at=r.created_at,
        )


class SetupOut(BaseModel):
    setup_intent_id: str
    client_secret: str
    publishable_key: str | None


class AutoTopUpIn(BaseModel):
    setup_intent_id: str = Field(max_length=64)
    threshold_cents: int
    amount_cents: int


class AutoTopUpOut(BaseModel):
    enabled: bool
    threshold_cents: int
    amount_cents: int
    payment_method: str | None
    consecutive_failures: int
    disabled_reason: str | None

    @classmethod
    def of(cls, a: AutoTopUp) -> AutoTopUpOut:
        return cls(
            enabled=a.enabled,
            threshold_cents=a.threshold_cents,
            amount_cents=a.amount_cents,
            payment_method=a.payment_method_label,
            consecutive_failures=a.consecutive_failures,
            disabled_reason=a.disabled_reason,
        )


class PaymentsOverview(BaseModel):
    purse_cents: int
    debt_cents: int = Field(description="owed after a chargeback the purse could not pay")
    balance_cents: int = Field(description="purse less debt: below zero while a debt is open")
    refundable_cents: int
    topups: list[TopUpOut]
    refunds: list[RefundOut]
    auto_topup: AutoTopUpOut | None
    notices: list[str]


class CashIn(BaseModel):
    request_id: uuid.UUID
    card_number: str = Field(max_length=19)
    amount_cents: int


class CashOut(BaseModel):
    id: uuid.UUID
    kiosk_id: str
    amount_cents: int
    balance_cents: int
    at: datetime


class CloseDayIn(BaseModel):
    request_id: uuid.UUID
    counted_cents: int


class ClosingOut(BaseModel):
    id: uuid.UUID
    kiosk_id: str
    business_date: date
    topups: int
    expected_cents: int
    counted_cents: int
    difference_cents: int = Field(description="counted - expected: below zero is cash missing")
    closed_at: datetime
    closed_by: str

    @classmethod
    def of(cls, c: KioskClosing) -> ClosingOut:
        return cls(
            id=c.id,
            kiosk_id=c.kiosk_id,
            business_date=c.business_date,
            topups=c.topups,
            expected_cents=c.expected_cents,
            counted_cents=c.counted_cents,
            difference_cents=c.difference_cents,
            closed_at=c.closed_at,
            closed_by=c.closed_by,
        )


class WebhookAck(BaseModel):
    received: str
    type: str
    outcome: str | None
    duplicate: bool
