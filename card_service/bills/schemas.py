"""Bill requests and answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

Reference = Field(pattern=r"^[A-Za-z0-9-]{4,32}$")


class BillIn(BaseModel):
    kind: Literal["bill", "fine"] = "bill"
    issuer: str = Field(min_length=2, max_length=100)
    concept: str = Field(min_length=2, max_length=200)
    amount_cents: int = Field(gt=0, le=100_000_00)
    due_date: date
    reference: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{4,32}$")


class BillOut(BaseModel):
    reference: str
    kind: str
    issuer: str
    concept: str
    amount_cents: int
    due_date: date
    status: str


class PayIn(BaseModel):
    client_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class PaymentOut(BaseModel):
    reference: str
    amount_cents: int
    receipt: str
    paid_at: datetime
    transfer_id: str
    replayed: bool


class CardPaymentIn(BaseModel):
    client_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class CardPaymentOut(BaseModel):
    """A bill's bank-card payment: pay ``client_secret`` on Stripe's element, then ask how it
    stands (``status`` paid, pending or failed; the receipt once paid)."""

    reference: str
    amount_cents: int
    payment_intent_id: str
    status: str
    client_secret: str | None = None
    publishable_key: str | None = None
    receipt: str | None = None
    failure: str | None = None
