"""Card requests and answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

BlockReason = Literal["lost", "stolen", "damaged", "fraud"]
Pin = Field(default=None, pattern=r"^\d{4,6}$")


class IssueIn(BaseModel):
    chip_uid: str | None = Field(default=None, pattern=r"^[0-9A-F]{8,32}$")
    pin: str | None = Pin


class ActivateIn(BaseModel):
    chip_uid: str = Field(pattern=r"^[0-9A-F]{8,32}$")


class BlockIn(BaseModel):
    reason: BlockReason


class ReasonIn(BaseModel):
    reason: str = Field(min_length=3, max_length=256)


class ReplaceIn(BaseModel):
    chip_uid: str | None = Field(default=None, pattern=r"^[0-9A-F]{8,32}$")
    pin: str | None = Pin


class PinIn(BaseModel):
    pin: str = Field(pattern=r"^\d{4,6}$")


class CardOut(BaseModel):
    number: str
    holder_id: str
    status: str
    block_reason: str | None
    chip_uid: str | None
    expires_on: date
    issued_at: datetime
    pin_set: bool
    pin_blocked: bool
    replaces: str | None = None
    # On the validators' deny list now (blocked, or the holder owes money: holder_debt_cents).
    deny_listed: bool = False
    holder_debt_cents: int = 0
