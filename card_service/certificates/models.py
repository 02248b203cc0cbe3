"""Issued residence certificates. The content (name, address, dates) is sealed under the PII
keyring; the verification code is an HMAC over the serial and the content's digest."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK


class ResidenceCertificate(Base):
    __tablename__ = "certificates_residence"
    __table_args__ = (UniqueConstraint("holder_id", "client_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(24), unique=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)  # 16 characters, no dashes
    holder_id: Mapped[int] = mapped_column(ForeignKey("identity_holders.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[date] = mapped_column(Date)
    content: Mapped[bytes] = mapped_column(LargeBinary)
