"""Terminal tables: enrolled terminals, every uploaded tap's answer, purse denials, counters.

``terminals_taps``, ``terminals_purse_denials``, ``terminals_settled_counters`` and
``terminals_cap_refunds`` are append-only
(database triggers): an answer given to a terminal never changes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK, UUIDBytes

NOT_SETTLED = "outcome <> 'settled'"


class SettledCounter(Base):
    """Card counters already settled: a tap's counter counts once per card, ever."""

    __tablename__ = "terminals_settled_counters"
    __table_args__ = ({"sqlite_with_rowid": False},)

    card_uid: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    settled_at: Mapped[int] = mapped_column(BigInteger)


class Terminal(Base):
    """An enrolled terminal; ``id`` is the terminal id its tap records carry (u32)."""

    __tablename__ = "terminals_terminals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))  # bus_validator | door_reader | kiosk
    service: Mapped[str] = mapped_column(String(32))
    place: Mapped[str] = mapped_column(String(64))  # vehicle or place
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # active | disabled
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SettledTap(Base):
    """The back office's answer for one (terminal, sequence): given once, repeated on retries.

    outcome: settled (money moved) | exception (a real tap, not charged: revenue loss) |
    rejected (not a valid tap: bad MAC, replayed counter, malformed) | void (a sequence number
    the terminal used for no tap)."""

    __tablename__ = "terminals_taps"
    __table_args__ = (
        Index(
            "ix_terminals_taps_not_settled",
            "outcome",
            postgresql_where=text(NOT_SETTLED),
            sqlite_where=text(NOT_SETTLED),
        ),
        # The cap true-up reads a service day's taps (terminals/caps.py). BRIN on PostgreSQL:
        # taps arrive nearly in time order, and it costs settlement almost nothing to keep.
        Index("ix_terminals_taps_tap_time", "tap_time", postgresql_using="brin"),
        {"sqlite_with_rowid": False},
    )

    terminal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    card_uid: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    card_counter: Mapped[int | None] = mapped_column(BigInteger)
    tap_time: Mapped[int | None] = mapped_column(BigInteger)  # Unix seconds, as the card MACed
    holder_cents: Mapped[int] = mapped_column(BigInteger)
    concession_cents: Mapped[int] = mapped_column(BigInteger)
    concession_category: Mapped[str | None] = mapped_column(String(16))
    service: Mapped[str | None] = mapped_column(String(32))
    product: Mapped[str | None] = mapped_column(String(32))
    settled_at: Mapped[int] = mapped_column(BigInteger)  # ns


class PurseDenial(Base):
    """Cards whose purse is empty, at or below zero (add), and back above it (remove), in order.

    Synced like the cards' deny list: by (commit_key, position), below the commit horizon."""

    __tablename__ = "terminals_purse_denials"

    position: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    commit_key: Mapped[int] = mapped_column(BigInteger)
    chip_uid: Mapped[str] = mapped_column(String(32), index=True)
    purse_account_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(8))  # add | remove
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CapRefund(Base):
    """What the cap true-up refunded (terminals/caps.py): one row per ledger transfer it wrote."""

    __tablename__ = "terminals_cap_refunds"
    __table_args__ = (Index("ix_terminals_cap_refunds_period", "service", "period"),)

    transfer_id: Mapped[uuid.UUID] = mapped_column(UUIDBytes, primary_key=True)
    service: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(16))  # day:YYYY-MM-DD | week:YYYY-MM-DD (Monday)
    purse_account_id: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
