"""Entitlement grants: a holder's proof-based category (pension, large family...) for a period.

A grant is never deleted. Its decisions are columns written once each: the second person's
approval or rejection (free-fare categories only) and the revocation, each with who and when, so
the row is its own history; the audit trail records every step as well. ``evidence_id`` names the
identity evidence the clerk checked; it is not a foreign key because erasure deletes evidence.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK


class Grant(Base):
    __tablename__ = "entitlements_grants"
    __table_args__ = (Index("ix_entitlements_grants_holder", "holder_id", "category"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("identity_holders.id"))
    category: Mapped[str] = mapped_column(String(32))
    evidence_id: Mapped[int] = mapped_column(BigInteger)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Free-fare categories need a second member of staff: until then the grant does not apply.
    needs_approval: Mapped[bool] = mapped_column(Boolean)
    granted_by: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decision: Mapped[str | None] = mapped_column(String(16))  # approved | rejected
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(String(256))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoke_reason: Mapped[str | None] = mapped_column(String(256))
