"""Cap true-up (terminals/caps.py): the refunds it wrote, and an index to read a day's taps.

Revision ID: 0010_cap_true_up
Revises: 0009_purse_floor
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from card_service.append_only import create_statements, drop_statements
from card_service.models_base import UUIDBytes

revision: str = "0010_cap_true_up"
down_revision: str | None = "0009_purse_floor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "terminals_cap_refunds",
        sa.Column("transfer_id", UUIDBytes(length=16), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("purse_account_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_terminals_cap_refunds")),
    )
    op.create_index(
        "ix_terminals_cap_refunds_period", "terminals_cap_refunds", ["service", "period"]
    )
    op.create_index(
        "ix_terminals_taps_tap_time", "terminals_taps", ["tap_time"], postgresql_using="brin"
    )
    for statement in create_statements(op.get_bind().dialect.name, "terminals_cap_refunds"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements(op.get_bind().dialect.name, "terminals_cap_refunds"):
        op.execute(statement)
    op.drop_index("ix_terminals_taps_tap_time", table_name="terminals_taps")
    op.drop_index("ix_terminals_cap_refunds_period", table_name="terminals_cap_refunds")
    op.drop_table("terminals_cap_refunds")
