"""Catalogue versions: every loaded file, append-only; the one in force at T has the latest
``effective_from`` not after T."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK


class CatalogueVersion(Base):
    __tablename__ = "catalogue_versions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # "c" + the first 16 hex digits of the SHA-256 of the file: the same file is the same version.
    version: Mapped[str] = mapped_column(String(32), index=True)
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(32))  # SHA-256 of the file as loaded
    source: Mapped[str] = mapped_column(Text)  # the file as loaded (YAML)
    rules: Mapped[str] = mapped_column(Text)  # FareRules.to_dict() as canonical JSON
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    loaded_by: Mapped[str] = mapped_column(String(64))
