"""The city's services: catalogue versions, entitlements, service clients and charges (issue 4).

Revision ID: 0004_services
Revises: 0003_devices_counters
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import card_service.models_base
from card_service.append_only import create_statements, drop_statements

revision: str = "0004_services"
down_revision: str | None = "0003_devices_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


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

    # entitlements, service clients and charges (branch grants)
    op.create_table(
        "entitlements_grants",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("holder_id", ID, nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("evidence_id", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("granted_by", ID, nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=256), nullable=True),
        sa.Column("revoked_by", ID, nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["staff_accounts.id"],
            name=op.f("fk_entitlements_grants_decided_by_staff_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"],
            ["staff_accounts.id"],
            name=op.f("fk_entitlements_grants_granted_by_staff_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_entitlements_grants_holder_id_identity_holders"),
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"],
            ["staff_accounts.id"],
            name=op.f("fk_entitlements_grants_revoked_by_staff_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlements_grants")),
    )
    with op.batch_alter_table("entitlements_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entitlements_grants_holder", ["holder_id", "category"], unique=False
        )

    op.create_table(
        "services_api_clients",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("previous_secret_hash", sa.String(length=128), nullable=True),
        sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("rate_per_s", sa.Integer(), nullable=False),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services_api_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_services_api_clients_client_id")),
    )
    with op.batch_alter_table("services_api_clients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_services_api_clients_service"), ["service"], unique=False
        )

    uuid_column = card_service.models_base.UUIDBytes(length=16)
    op.create_table(
        "charging_charges",
        sa.Column("id", uuid_column, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=48), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("holder_id", ID, nullable=False),
        sa.Column("card_number", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refusal", sa.String(length=48), nullable=True),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("holder_cents", sa.BigInteger(), nullable=False),
        sa.Column("concession_cents", sa.BigInteger(), nullable=False),
        sa.Column("concession_category", sa.String(length=32), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("catalogue_version", sa.String(length=64), nullable=False),
        sa.Column("holder_transfer_id", uuid_column, nullable=True),
        sa.Column("concession_transfer_id", uuid_column, nullable=True),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_charging_charges_holder_id_identity_holders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_charges")),
    )
    with op.batch_alter_table("charging_charges", schema=None) as batch_op:
        batch_op.create_index("ix_charging_charges_day", ["day", "service"], unique=False)
        batch_op.create_index(
            "ix_charging_charges_holder", ["holder_id", "service", "at"], unique=False
        )
    for statement in create_statements(op.get_bind().dialect.name, "charging_charges"):
        op.execute(statement)
    # end of branch grants


def downgrade() -> None:
    # catalogue (branch fees)
    for statement in drop_statements(op.get_bind().dialect.name, "catalogue_versions"):
        op.execute(statement)
    with op.batch_alter_table("catalogue_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_versions_version"))
        batch_op.drop_index(batch_op.f("ix_catalogue_versions_effective_from"))
    op.drop_table("catalogue_versions")
    # end of catalogue (branch fees)

    # entitlements, service clients and charges (branch grants)
    for statement in drop_statements(op.get_bind().dialect.name, "charging_charges"):
        op.execute(statement)
    with op.batch_alter_table("charging_charges", schema=None) as batch_op:
        batch_op.drop_index("ix_charging_charges_holder")
        batch_op.drop_index("ix_charging_charges_day")
    op.drop_table("charging_charges")
    with op.batch_alter_table("services_api_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_api_clients_service"))
    op.drop_table("services_api_clients")
    with op.batch_alter_table("entitlements_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_entitlements_grants_holder")
    op.drop_table("entitlements_grants")
    # end of branch grants
