"""Municipal bills and fines, each paid once: from a purse or by bank card.

The money of a payment is a ledger transfer (purse or card clearing -> the bills revenue account);
this row says which bill it paid, who paid it, with which client id (so a retry replays) and the
receipt number.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK, UUIDBytes


class Bill(Base):
    __tablename__ = "bills"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # bill | fine
    issuer: Mapped[str] = mapped_column(String(100))  # the service that issued it
    concept: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # open | paid | cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_by: Mapped[int | None] = mapped_column(ForeignKey("identity_holders.id"), index=True)
    method: Mapped[str | None] = mapped_column(String(8))  # purse | card
    client_id: Mapped[str | None] = mapped_column(String(64))
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(UUIDBytes)
    receipt: Mapped[str | None] = mapped_column(String(24), unique=True)
