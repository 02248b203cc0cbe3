"""Holder requests and answers. Personal fields appear only here and inside the sealed blob."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class Address(BaseModel):
    street: str = Field(max_length=200)
    postcode: str = Field(pattern=r"^\d{5}$")
    city: str = Field(default="Gijón", max_length=100)
    country: str = Field(default="ES", pattern=r"^[A-Z]{2}$")


class Contact(BaseModel):
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32)


class PersonIn(BaseModel):
    given_names: str = Field(min_length=1, max_length=100)
    surnames: str = Field(min_length=1, max_length=150)
    national_id: str = Field(max_length=20)
    date_of_birth: date
    contact: Contact = Contact()
    address: Address
    residence_status: Literal["registered", "not_registered", "unknown"] = "unknown"
    residence_since: date | None = None


class OrganisationIn(BaseModel):
    legal_name: str = Field(min_length=1, max_length=200)
    national_id: str = Field(max_length=20)
    contact: Contact = Contact()
    address: Address


class ContactUpdate(BaseModel):
    contact: Contact | None = None
    address: Address | None = None
    residence_status: Literal["registered", "not_registered", "unknown"] | None = None
    residence_since: date | None = None


class LookupIn(BaseModel):
    national_id: str = Field(max_length=20)


class EvidenceIn(BaseModel):
    doc_type: str = Field(pattern=r"^[a-z_]{2,48}$")  # dni, nie, passport, census_certificate...
    number: str = Field(min_length=1, max_length=64)
    valid_until: datetime | None = None


class EvidenceOut(BaseModel):
    id: int
    doc_type: str
    checked_by: str
    checked_at: datetime
    valid_until: datetime | None


class HolderOut(BaseModel):
    holder_id: str  # the pseudonym
    kind: str
    status: str
    created_at: datetime
    personal: dict[str, object] | None = None
    purse_account_id: int | None = None


class ErasureIn(BaseModel):
    reason: str = Field(min_length=5, max_length=256)


class NameSearchIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class NameMatchOut(BaseModel):
    """One holder found by name: enough for the clerk to pick the right one."""

    holder_id: str
    kind: str
    name: str
    birth_year: int | None
    card: str | None  # the live card's number, if any
