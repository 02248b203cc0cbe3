"""Requests and answers of the service API and of its administration."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from card_service.services_api.policy import Policy

PURPOSE = Field(
    default=None,
    max_length=160,
    description="Why the service asks (required here or in the Purpose header); audited.",
)
CARD = Field(pattern=r"^\d{16}$", description="The card's 16-digit number.")


class ClientIn(BaseModel):
    service: str = Field(pattern=r"^[a-z0-9_]{2,32}$", description="The catalogue's service code.")
    name: str = Field(min_length=2, max_length=128)
    policy: Policy = Policy()
    rate_per_s: int | None = Field(default=None, ge=1, le=100_000)
    burst: int | None = Field(default=None, ge=1, le=100_000)


class PolicyIn(BaseModel):
    policy: Policy
    rate_per_s: int | None = Field(default=None, ge=1, le=100_000)
    burst: int | None = Field(default=None, ge=1, le=100_000)


class RotationIn(BaseModel):
    grace_hours: int | None = Field(default=None, ge=0, le=24 * 30)


class ClientOut(BaseModel):
    client_id: str
    service: str
    name: str
    policy: Policy
    rate_per_s: int
    burst: int
    active: bool
    previous_secret_valid_until: datetime | None
    created_at: datetime
    updated_at: datetime


class ClientIssued(ClientOut):
    secret: str = Field(description="Shown once: store it in the service's secret store.")


class CardAnswer(BaseModel):
    """Card valid and active: yes or no; personal fields only those the policy names."""

    card: str
    valid: bool
    birth_date: date | None = None
    name: str | None = None
    address: dict[str, str | None] | None = None
    residence_status: str | None = None


class EntitlementAnswer(BaseModel):
    card: str
    category: str
    entitled: bool


class QuoteIn(BaseModel):
    card: str = CARD
    product: str = Field(min_length=1, max_length=48)
    quantity: int = Field(default=1, ge=1, le=100)
    purpose: str | None = PURPOSE


class QuoteAnswer(BaseModel):
    card: str
    product: str
    quantity: int
    price_cents: int = Field(description="What this card would pay now, in euro cents.")


class ChargeIn(BaseModel):
    id: str = Field(
        min_length=1,
        max_length=64,
        description="The service's own id for this charge: a retry with the same id is the same "
        "charge, never a second one.",
    )
    card: str = CARD
    product: str = Field(min_length=1, max_length=48)
    quantity: int = Field(default=1, ge=1, le=100)
    purpose: str | None = PURPOSE


class ChargeAnswer(BaseModel):
    id: str
    card: str
    product: str
    quantity: int
    price_cents: int = Field(description="What the card paid, in euro cents.")
    at: datetime
    status: str  # ok | refused
    refusal: str | None = None


class UsageItem(BaseModel):
    """One of this service's own charges to the card's holder."""

    id: str
    product: str
    quantity: int
    price_cents: int
    at: datetime
    status: str
