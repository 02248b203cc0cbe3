"""Holder tables. Personal fields live only inside ``pii`` (AES-GCM under the holder's data key).

The clear columns say nothing about the person: a random pseudonym (also the purse's name in the
ledger), the kind, a keyed hash of the national id for lookups, and timestamps.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK


class Holder(Base):
    __tablename__ = "identity_holders"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # person | organisation
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | erased
    # HMAC-SHA256 of the normalised national id; NULL once erased (the person may come back).
    national_id_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    pii: Mapped[bytes | None] = mapped_column(LargeBinary)
    purse_account_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DataKey(Base):
    """A holder's data key, wrapped under a master key. Deleting the row shreds the holder."""

    __tablename__ = "identity_data_keys"

    holder_id: Mapped[int] = mapped_column(
        ForeignKey("identity_holders.id"), primary_key=True, autoincrement=False
    )
    key_id: Mapped[bytes] = mapped_column(LargeBinary(8))
    master_key_id: Mapped[str] = mapped_column(String(16), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Evidence(Base):
    """A document a clerk checked: the proof behind an entitlement. The number is only hashed."""

    __tablename__ = "identity_evidence"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("identity_holders.id"), index=True)
    doc_type: Mapped[str] = mapped_column(String(48))
    number_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    checked_by: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HolderNameWord(Base):
    """The blind name index: an HMAC of each normalised word of a holder's name (identity/names)."""

    __tablename__ = "holder_name_words"

    holder_id: Mapped[int] = mapped_column(
        ForeignKey("identity_holders.id"), primary_key=True, autoincrement=False
    )
    word_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True, index=True)
