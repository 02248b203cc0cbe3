"""Bills and fines, and residence certificates (issue 8).

Revision ID: 0007_kiosk
Revises: 0006_terminals
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import card_service.models_base

revision: str = "0007_kiosk"
down_revision: str | None = "0006_terminals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bills",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("issuer", sa.String(length=100), nullable=False),
        sa.Column("concept", sa.String(length=200), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by", BIGINT_PK, nullable=True),
        sa.Column("method", sa.String(length=8), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("transfer_id", card_service.models_base.UUIDBytes(length=16), nullable=True),
        sa.Column("receipt", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(
            ["paid_by"], ["identity_holders.id"], name=op.f("fk_bills_paid_by_identity_holders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bills")),
        sa.UniqueConstraint("receipt", name=op.f("uq_bills_receipt")),
        sa.UniqueConstraint("reference", name=op.f("uq_bills_reference")),
    )
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bills_paid_by"), ["paid_by"], unique=False)

    op.create_table(
        "certificates_residence",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(length=24), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("holder_id", BIGINT_PK, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_certificates_residence_holder_id_identity_holders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates_residence")),
        sa.UniqueConstraint("code", name=op.f("uq_certificates_residence_code")),
        sa.UniqueConstraint(
            "holder_id", "client_id", name=op.f("uq_certificates_residence_holder_id")
        ),
        sa.UniqueConstraint("serial", name=op.f("uq_certificates_residence_serial")),
    )
    with op.batch_alter_table("certificates_residence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificates_residence_holder_id"), ["holder_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("certificates_residence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_residence_holder_id"))
    op.drop_table("certificates_residence")
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bills_paid_by"))
    op.drop_table("bills")
