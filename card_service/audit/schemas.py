"""Who acts (an Actor travels with every state-changing call) and what the trail shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # staff | citizen | service | system
    id: str  # staff username, "holder:<pseudonym>", service name, or command name
    role: str  # clerk | supervisor | auditor | admin | citizen | service | system
    request_id: str | None = None
    staff_id: int | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls("system", name, "system")


class AuditEventOut(BaseModel):
    position: int
    at: datetime
    actor_kind: str
    actor: str
    role: str
    action: str
    target: str
    outcome: str
    reason: str | None
    request_id: str | None

    @staticmethod
    def ns_to_dt(ns: int) -> datetime:
        return datetime.fromtimestamp(ns / 1e9, tz=UTC)


class VerifyReport(BaseModel):
    ok: bool
    events: int
    first_bad_position: int | None = None
    problem: str | None = None
