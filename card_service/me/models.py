"""Phones a holder registered for a mobile credential (an Ed25519 device key each)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK


class MobileDevice(Base):
    __tablename__ = "me_mobile_devices"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    holder_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("identity_holders.id"), index=True
    )
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
