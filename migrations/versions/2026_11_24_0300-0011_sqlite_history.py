"""SQLite: account history indexed in sorted runs (ledger_history) instead of per-row indexes.

Revision ID: 0011_sqlite_history
Revises: 0010_cap_true_up
Create Date: 2026-11-24

PostgreSQL is unchanged. See card_service/ledger/history.py and docs/decisions/0011.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from card_service.append_only import create_statements, drop_statements
from card_service.models_base import UUIDBytes

revision: str = "0011_sqlite_history"
down_revision: str | None = "0010_cap_true_up"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "ledger_history",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", UUIDBytes(length=16), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "timestamp", "transfer_id", name=op.f("pk_ledger_history")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_history_state",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("indexed_upto", sa.BigInteger(), nullable=False),
        sa.Column("run_upto", sa.BigInteger(), nullable=False),
        sa.Column("run_from", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_history_state")),
    )
    op.execute(
        "INSERT INTO ledger_history_state (id, indexed_upto, run_upto, run_from) VALUES (1, 0, 0, 0)"
    )
    for statement in create_statements("sqlite", "ledger_history"):
        op.execute(statement)
    # Every transfer so far, indexed at once (written here, not by ledger/history.py, so that this
    # migration stays what it is when that module changes); then the per-row indexes go.
    op.execute(
        "INSERT INTO ledger_history (account_id, timestamp, transfer_id) "
        "SELECT debit_account_id, timestamp, id FROM ledger_transfers UNION ALL "
        "SELECT credit_account_id, timestamp, id FROM ledger_transfers ORDER BY 1, 2, 3"
    )
    newest = "(SELECT coalesce(max(rowid), 0) FROM ledger_transfers)"
    op.execute(f"UPDATE ledger_history_state SET indexed_upto = {newest}, run_upto = {newest}")
    op.drop_index("ix_ledger_transfers_debit_account", table_name="ledger_transfers")
    op.drop_index("ix_ledger_transfers_credit_account", table_name="ledger_transfers")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index(
        "ix_ledger_transfers_credit_account", "ledger_transfers", ["credit_account_id", "timestamp"]
    )
    op.create_index(
        "ix_ledger_transfers_debit_account", "ledger_transfers", ["debit_account_id", "timestamp"]
    )
    for statement in drop_statements("sqlite", "ledger_history"):
        op.execute(statement)
    op.drop_table("ledger_history_state")
    op.drop_table("ledger_history")
