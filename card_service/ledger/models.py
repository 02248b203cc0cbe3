"""Ledger tables. Only card_service.ledger writes them.

Transfers, failed ids, batches, the chain and (SQLite) the history index are append-only
(database triggers refuse UPDATE and DELETE). Each transfer row is both of its entries: it carries
the debit and the credit account's posted balance after it, and the ``ledger_entries`` view (see
the migration) shows them as two rows, one per account. The account row holds cached balances,
changed in the same transaction as the entries that explain them; ``card-service ledger verify``
recomputes them from the entries.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Index, LargeBinary, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base, BigIntPK, UUIDBytes


class Account(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    flags: Mapped[int] = mapped_column(SmallInteger, default=0)
    floor_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    # Ledger time (ns) of the account's newest entry; every new entry gets a later one.
    timestamp_last: Mapped[int] = mapped_column(BigInteger, default=0)
    user_data: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Transfer(Base):
    __tablename__ = "ledger_transfers"
    __table_args__ = (
        Index(
            "uq_ledger_transfers_pending_id",
            "pending_id",
            unique=True,
            postgresql_where=text("pending_id IS NOT NULL"),
            sqlite_where=text("pending_id IS NOT NULL"),
        ),
        # PostgreSQL indexes each account's history as transfers are written; SQLite keeps it in
        # ledger_history, written in sorted runs (see card_service/ledger/history.py).
        Index(
            "ix_ledger_transfers_debit_account",
            "debit_account_id",
            "timestamp",
            info={"dialects": ("postgresql",)},
        ),
        Index(
            "ix_ledger_transfers_credit_account",
            "credit_account_id",
            "timestamp",
            info={"dialects": ("postgresql",)},
        ),
        Index(
            "ix_ledger_transfers_expires_at",
            "expires_at",
            postgresql_where=text("expires_at IS NOT NULL"),
            sqlite_where=text("expires_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDBytes, primary_key=True)
    debit_account_id: Mapped[int] = mapped_column(BigInteger)
    credit_account_id: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    pending_id: Mapped[uuid.UUID | None] = mapped_column(UUIDBytes, nullable=True)
    code: Mapped[str] = mapped_column(String(32))
    user_data: Mapped[str | None] = mapped_column(String(128), nullable=True)
    flags: Mapped[int] = mapped_column(SmallInteger)
    timeout_s: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    # The two entries of this transfer: each account's posted balance (credits - debits) after it.
    debit_balance_after: Mapped[int] = mapped_column(BigInteger)
    credit_balance_after: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[int] = mapped_column(BigInteger)


class FailedTransfer(Base):
    """A transfer id that failed on a state-dependent error; a retry gets the same answer."""

    __tablename__ = "ledger_failed_transfers"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[uuid.UUID] = mapped_column(UUIDBytes, primary_key=True)
    result: Mapped[str] = mapped_column(String(48))
    debit_account_id: Mapped[int] = mapped_column(BigInteger)
    credit_account_id: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pending_id: Mapped[uuid.UUID | None] = mapped_column(UUIDBytes, nullable=True)
    code: Mapped[str] = mapped_column(String(32))
    user_data: Mapped[str | None] = mapped_column(String(128), nullable=True)
    flags: Mapped[int] = mapped_column(SmallInteger)
    timeout_s: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class Batch(Base):
    """One committed call of create_transfers, with a hash over its transfers."""

    __tablename__ = "ledger_batches"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    transfer_count: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # PostgreSQL: the writing transaction's id, so the sealer chains only finished transactions.
    seal_key: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)


class ChainLink(Base):
    """The tamper-evident chain: each sealed batch, its position and the hash chained so far."""

    __tablename__ = "ledger_chain"

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class SealState(Base):
    """Where the sealer stopped: a cache of the chain's head, one row, locked by the sealer."""

    __tablename__ = "ledger_seal_state"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    horizon: Mapped[int] = mapped_column(BigInteger)


class HistoryIndexEntry(Base):
    """SQLite only: one entry of an account's history, a key to its transfer. Append-only.

    Written in sorted runs for every transfer up to the state's mark (and part of a run in
    progress); the transfers after the mark are read from ledger_transfers (see history.py).
    """

    __tablename__ = "ledger_history"
    __table_args__ = ({"sqlite_with_rowid": False, "info": {"dialects": ("sqlite",)}},)

    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    timestamp: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    transfer_id: Mapped[uuid.UUID] = mapped_column(UUIDBytes, primary_key=True)


class HistoryState(Base):
    """SQLite only, one row: the rowid of the last transfer whose entries are all in
    ledger_history; and the run in progress: up to which transfer, from which account on."""

    __tablename__ = "ledger_history_state"
    __table_args__ = ({"info": {"dialects": ("sqlite",)}},)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    indexed_upto: Mapped[int] = mapped_column(BigInteger)
    run_upto: Mapped[int] = mapped_column(BigInteger)
    run_from: Mapped[int] = mapped_column(BigInteger)
