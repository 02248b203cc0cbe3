"""The audit trail: append-only (database triggers), each row hashing the previous one."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_target", "target", "position"),
        Index("ix_audit_events_actor", "actor", "position"),
        Index("ix_audit_events_action", "action", "position"),
    )

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[int] = mapped_column(BigInteger)  # ns since the epoch
    actor_kind: Mapped[str] = mapped_column(String(16))  # staff | citizen | service | system
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(96))
    outcome: Mapped[str] = mapped_column(String(16))  # ok | denied | failed
    reason: Mapped[str | None] = mapped_column(String(256))
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    """The chain's head (one row): locking it orders concurrent appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
