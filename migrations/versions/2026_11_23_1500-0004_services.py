"""The city's services: catalogue versions, entitlements, service clients and charges (issue 4).

Revision ID: 0004_services
Revises: 0003_devices_counters
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from card_service.append_only import create_statements, drop_statements

revision: str = "0004_services"
down_revision: str | None = "0003_devices_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # catalogue (branch fees)
    op.create_table(
        "catalogue_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_versions")),
    )
    with op.batch_alter_table("catalogue_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalogue_versions_effective_from"), ["effective_from"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_catalogue_versions_version"), ["version"], unique=False
        )
    for statement in create_statements(op.get_bind().dialect.name, "catalogue_versions"):
        op.execute(statement)
    # end of catalogue (branch fees)


def downgrade() -> None:
    # catalogue (branch fees)
    for statement in drop_statements(op.get_bind().dialect.name, "catalogue_versions"):
        op.execute(statement)
    with op.batch_alter_table("catalogue_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_versions_version"))
        batch_op.drop_index(batch_op.f("ix_catalogue_versions_effective_from"))
    op.drop_table("catalogue_versions")
    # end of catalogue (branch fees)
