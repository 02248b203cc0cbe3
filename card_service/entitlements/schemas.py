"""Grant requests and answers, and the categories a grant may name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

GrantStatus = Literal["pending", "scheduled", "active", "expired", "rejected", "revoked"]


@dataclass(frozen=True)
class Categories:
    """The proof-based categories of the fare rules in force, and which of them ride free."""

    known: frozenset[str]
    free: frozenset[str]


class GrantIn(BaseModel):
    category: str = Field(pattern=r"^[a-z0-9_]{2,32}$")
    evidence_id: int = Field(description="The identity evidence the clerk checked (its id).")
    valid_from: datetime | None = Field(default=None, description="Default: now.")
    valid_to: datetime


class ReasonIn(BaseModel):
    reason: str = Field(min_length=5, max_length=256)


class GrantOut(BaseModel):
    id: int
    holder_id: str  # the pseudonym
    category: str
    evidence_id: int
    valid_from: datetime
    valid_to: datetime
    needs_approval: bool
    status: GrantStatus
    granted_by: str
    granted_at: datetime
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    revoked_by: str | None
    revoked_at: datetime | None
    revoke_reason: str | None


class CategoryOut(BaseModel):
    code: str
    free: bool = Field(description="A free fare somewhere: a grant needs a second person.")
