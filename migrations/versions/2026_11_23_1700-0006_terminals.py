"""Terminal enrolment, snapshots and settled tap batches (issue 6).

Revision ID: 0006_terminals
Revises: 0005_payments
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from card_service.append_only import create_statements, drop_statements

revision: str = "0006_terminals"
down_revision: str | None = "0005_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("terminals_taps", "terminals_purse_denials")
NOT_SETTLED = "outcome <> 'settled'"


def upgrade() -> None:
    op.create_table(
        "terminals_terminals",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("place", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terminals_terminals")),
        sa.UniqueConstraint("public_key", name=op.f("uq_terminals_terminals_public_key")),
    )
    op.create_table(
        "terminals_taps",
        sa.Column("terminal_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("card_uid", sa.LargeBinary(length=16), nullable=True),
        sa.Column("card_counter", sa.BigInteger(), nullable=True),
        sa.Column("tap_time", sa.BigInteger(), nullable=True),
        sa.Column("holder_cents", sa.BigInteger(), nullable=False),
        sa.Column("concession_cents", sa.BigInteger(), nullable=False),
        sa.Column("concession_category", sa.String(length=16), nullable=True),
        sa.Column("service", sa.String(length=32), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("settled_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("terminal_id", "seq", name=op.f("pk_terminals_taps")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_terminals_taps_not_settled",
        "terminals_taps",
        ["outcome"],
        unique=False,
        postgresql_where=sa.text(NOT_SETTLED),
        sqlite_where=sa.text(NOT_SETTLED),
    )
    op.create_table(
        "terminals_purse_denials",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("commit_key", sa.BigInteger(), nullable=False),
        sa.Column("chip_uid", sa.String(length=32), nullable=False),
        sa.Column("purse_account_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_terminals_purse_denials")),
    )
    op.create_index(
        op.f("ix_terminals_purse_denials_chip_uid"),
        "terminals_purse_denials",
        ["chip_uid"],
        unique=False,
    )
    with op.batch_alter_table("cards_deny_list", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("commit_key", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_cards_deny_list_commit_key"), ["commit_key"], unique=False
        )
    for table in APPEND_ONLY:
        for statement in create_statements(op.get_bind().dialect.name, table):
            op.execute(statement)


def downgrade() -> None:
    for table in APPEND_ONLY:
        for statement in drop_statements(op.get_bind().dialect.name, table):
            op.execute(statement)
    with op.batch_alter_table("cards_deny_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cards_deny_list_commit_key"))
        batch_op.drop_column("commit_key")
    # SQLite rebuilds the table to drop a column: put its append-only triggers back.
    dialect = op.get_bind().dialect.name
    for statement in drop_statements(dialect, "cards_deny_list"):
        op.execute(statement)
    for statement in create_statements(dialect, "cards_deny_list"):
        op.execute(statement)
    op.drop_index(op.f("ix_terminals_purse_denials_chip_uid"), table_name="terminals_purse_denials")
    op.drop_table("terminals_purse_denials")
    op.drop_index("ix_terminals_taps_not_settled", table_name="terminals_taps")
    op.drop_table("terminals_taps")
    op.drop_table("terminals_terminals")
