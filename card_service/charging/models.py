"""Charges: every use a service charged to a card, its price split and its ledger transfers.

Append-only (database triggers). The row's id is derived from who asked and their own id for the
charge, so a retry finds the first answer. The fee engine's recent uses (transfer windows, caps,
passes) are read from here; refused charges are kept too, so a retry is refused the same way.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, UUIDBytes


class Charge(Base):
    __tablename__ = "charging_charges"
    __table_args__ = (
        Index("ix_charging_charges_holder", "holder_id", "service", "at"),
        Index("ix_charging_charges_day", "day", "service"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDBytes, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))  # the service client id, or "desk" ...
    ref: Mapped[str] = mapped_column(String(64))  # the caller's own id for this charge
    service: Mapped[str] = mapped_column(String(32))
    product: Mapped[str] = mapped_column(String(48))
    quantity: Mapped[int] = mapped_column(Integer)
    holder_id: Mapped[int] = mapped_column(ForeignKey("identity_holders.id"))
    card_number: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    day: Mapped[date] = mapped_column(Date)  # the city's calendar day of ``at``
    status: Mapped[str] = mapped_column(String(16))  # ok | refused
    refusal: Mapped[str | None] = mapped_column(String(48))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    holder_cents: Mapped[int] = mapped_column(BigInteger)
    concession_cents: Mapped[int] = mapped_column(BigInteger)
    concession_category: Mapped[str | None] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(32))
    catalogue_version: Mapped[str] = mapped_column(String(64))
    holder_transfer_id: Mapped[uuid.UUID | None] = mapped_column(UUIDBytes)
    concession_transfer_id: Mapped[uuid.UUID | None] = mapped_column(UUIDBytes)
