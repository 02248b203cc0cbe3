"""Cards and the deny list (an append-only log of additions and removals, synced by position)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK

LIVE = "status IN ('requested', 'active')"


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        # At most one live (requested or active) card per holder, whatever the code does.
        Index(
            "uq_cards_live_holder",
            "holder_id",
            unique=True,
            postgresql_where=text(LIVE),
            sqlite_where=text(LIVE),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    chip_uid: Mapped[str | None] = mapped_column(String(32), unique=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("identity_holders.id"), index=True)
    # requested | active | blocked | replaced | expired | revoked
    status: Mapped[str] = mapped_column(String(16))
    block_reason: Mapped[str | None] = mapped_column(String(16))
    expires_on: Mapped[date] = mapped_column(Date)
    replaces_id: Mapped[int | None] = mapped_column(BigInteger)
    pin_hash: Mapped[str | None] = mapped_column(String(128))
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DenyListChange(Base):
    """Validators sync the deny list: add when a card is blocked, remove when not.

    Order and sync cursor are (``commit_key``, ``position``): on PostgreSQL ``commit_key`` is the
    writing transaction's id and only rows below the snapshot's xmin are handed out, so a row whose
    transaction commits late is never skipped (card_service/cards/deny_list.py)."""

    __tablename__ = "cards_deny_list"

    position: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    commit_key: Mapped[int] = mapped_column(BigInteger, server_default="0", index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    card_number: Mapped[str] = mapped_column(String(16))
    chip_uid: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))  # add | remove
    reason: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
