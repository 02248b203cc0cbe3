"""Mobile devices of holders, and the card counters settlement has counted (append-only).

Revision ID: 0003_devices_counters
Revises: 0002_identity
Create Date: 2026-11-23 13:31:43.142478
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from card_service.append_only import create_statements, drop_statements

revision: str = "0003_devices_counters"
down_revision: str | None = "0002_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "terminals_settled_counters",
        sa.Column("card_uid", sa.LargeBinary(length=16), nullable=False),
        sa.Column("counter", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("settled_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("card_uid", "counter", name=op.f("pk_terminals_settled_counters")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "me_mobile_devices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("holder_id", sa.BigInteger(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_me_mobile_devices_holder_id_identity_holders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_me_mobile_devices")),
        sa.UniqueConstraint("public_key", name=op.f("uq_me_mobile_devices_public_key")),
    )
    with op.batch_alter_table("me_mobile_devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_me_mobile_devices_holder_id"), ["holder_id"], unique=False
        )

    for statement in create_statements(op.get_bind().dialect.name, "terminals_settled_counters"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements(op.get_bind().dialect.name, "terminals_settled_counters"):
        op.execute(statement)
    with op.batch_alter_table("me_mobile_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_me_mobile_devices_holder_id"))

    op.drop_table("me_mobile_devices")
    op.drop_table("terminals_settled_counters")
