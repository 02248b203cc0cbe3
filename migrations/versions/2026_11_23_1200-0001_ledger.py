"""The double-entry ledger: accounts, append-only transfers, the entries view, batches, the chain.

Revision ID: 0001_ledger
Revises: (none)
Create Date: 2026-11-23 12:19:53.739316
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import card_service.models_base
from card_service.append_only import create_statements, drop_statements

APPEND_ONLY = ("ledger_transfers", "ledger_failed_transfers", "ledger_batches", "ledger_chain")

# Flags: 2 pending, 4 post pending, 8 void pending. A hold moves pending amounts; posting or
# voiding it releases the whole hold (the hold's amount) and posts what was posted.
_SIDE = """
SELECT t.{me}_account_id AS account_id, t.timestamp AS timestamp, t.id AS transfer_id,
       {is_debit} AS is_debit,
       CASE WHEN (t.flags & 10) = 0 THEN t.amount_cents ELSE 0 END AS posted_delta,
       CASE WHEN (t.flags & 2) = 2 THEN t.amount_cents
            WHEN (t.flags & 12) <> 0 THEN -h.amount_cents ELSE 0 END AS pending_delta,
       t.{me}_balance_after AS balance_after_cents,
       t.{other}_account_id AS other_account_id, t.code AS code, t.user_data AS user_data
FROM ledger_transfers t LEFT JOIN ledger_transfers h ON h.id = t.pending_id"""
ENTRIES_VIEW = (
    "CREATE VIEW ledger_entries AS"
    + _SIDE.format(me="debit", other="credit", is_debit=1)
    + "\nUNION ALL"
    + _SIDE.format(me="credit", other="debit", is_debit=0)
)


revision: str = "0001_ledger"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("flags", sa.SmallInteger(), nullable=False),
        sa.Column("floor_cents", sa.BigInteger(), nullable=True),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("timestamp_last", sa.BigInteger(), nullable=False),
        sa.Column("user_data", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_ledger_accounts_code")),
    )
    op.create_table(
        "ledger_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("transfer_count", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("seal_key", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_batches")),
    )
    with op.batch_alter_table("ledger_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_batches_seal_key"), ["seal_key"], unique=False)

    op.create_table(
        "ledger_chain",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_ledger_chain")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_ledger_chain_batch_id")),
    )
    op.create_table(
        "ledger_failed_transfers",
        sa.Column("id", card_service.models_base.UUIDBytes(length=16), nullable=False),
        sa.Column("result", sa.String(length=48), nullable=False),
        sa.Column("debit_account_id", sa.BigInteger(), nullable=False),
        sa.Column("credit_account_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("pending_id", card_service.models_base.UUIDBytes(length=16), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("user_data", sa.String(length=128), nullable=True),
        sa.Column("flags", sa.SmallInteger(), nullable=False),
        sa.Column("timeout_s", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_failed_transfers")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_seal_state",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("horizon", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_seal_state")),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("id", card_service.models_base.UUIDBytes(length=16), nullable=False),
        sa.Column("debit_account_id", sa.BigInteger(), nullable=False),
        sa.Column("credit_account_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("pending_id", card_service.models_base.UUIDBytes(length=16), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("user_data", sa.String(length=128), nullable=True),
        sa.Column("flags", sa.SmallInteger(), nullable=False),
        sa.Column("timeout_s", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("debit_balance_after", sa.BigInteger(), nullable=False),
        sa.Column("credit_balance_after", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfers")),
    )
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_transfers_credit_account", ["credit_account_id", "timestamp"], unique=False
        )
        batch_op.create_index(
            "ix_ledger_transfers_debit_account", ["debit_account_id", "timestamp"], unique=False
        )
        batch_op.create_index(
            "ix_ledger_transfers_expires_at",
            ["expires_at"],
            unique=False,
            postgresql_where=sa.text("expires_at IS NOT NULL"),
            sqlite_where=sa.text("expires_at IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_ledger_transfers_pending_id",
            ["pending_id"],
            unique=True,
            postgresql_where=sa.text("pending_id IS NOT NULL"),
            sqlite_where=sa.text("pending_id IS NOT NULL"),
        )

    op.execute(
        sa.text(
            "INSERT INTO ledger_seal_state (id, position, chain_hash, horizon) VALUES (1, 0, :h, 0)"
        ).bindparams(sa.bindparam("h", b"\x00" * 32, type_=sa.LargeBinary))
    )
    op.execute(ENTRIES_VIEW)
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for statement in create_statements(dialect, table):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for statement in drop_statements(dialect, table):
            op.execute(statement)
    op.execute("DROP VIEW IF EXISTS ledger_entries")
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ledger_transfers_pending_id",
            postgresql_where=sa.text("pending_id IS NOT NULL"),
            sqlite_where=sa.text("pending_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_ledger_transfers_expires_at",
            postgresql_where=sa.text("expires_at IS NOT NULL"),
            sqlite_where=sa.text("expires_at IS NOT NULL"),
        )
        batch_op.drop_index("ix_ledger_transfers_debit_account")
        batch_op.drop_index("ix_ledger_transfers_credit_account")

    op.drop_table("ledger_transfers")
    op.drop_table("ledger_seal_state")
    op.drop_table("ledger_failed_transfers")
    op.drop_table("ledger_chain")
    with op.batch_alter_table("ledger_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_batches_seal_key"))

    op.drop_table("ledger_batches")
    op.drop_table("ledger_accounts")
