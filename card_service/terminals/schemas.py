"""Terminal requests and answers (staff side; the terminal wire format is in protocol)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

TerminalKind = Literal["bus_validator", "door_reader", "kiosk"]


class TerminalIn(BaseModel):
    id: int = Field(ge=1, le=2**32 - 1)
    kind: TerminalKind
    service: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    place: str = Field(min_length=1, max_length=64)
    public_key: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="Ed25519, 32 bytes hex")


class DisableIn(BaseModel):
    reason: str = Field(min_length=3, max_length=256)


class TerminalOut(BaseModel):
    id: int
    kind: str
    service: str
    place: str
    public_key: str
    status: str
    enrolled_at: datetime
    disabled_at: datetime | None


class ExceptionRow(BaseModel):
    terminal_id: int
    seq: int
    outcome: str
    reason: str | None
    card_uid: str | None
    tap_time: int | None
    holder_cents: int
    concession_cents: int
    service: str | None
