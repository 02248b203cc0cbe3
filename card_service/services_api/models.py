"""Registered clients of the service API: one per city service system, with its policy.

Secrets are stored only as argon2id hashes. A rotation keeps the previous hash until
``previous_valid_until`` so that the service can roll its new secret out without an outage.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK


class ServiceClient(Base):
    __tablename__ = "services_api_clients"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    service: Mapped[str] = mapped_column(String(32), index=True)  # catalogue service code
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str] = mapped_column(String(128))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(128))
    previous_valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    policy: Mapped[str] = mapped_column(Text)  # JSON of services_api.policy.Policy
    rate_per_s: Mapped[int] = mapped_column(Integer)
    burst: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
