"""Holders, encrypted personal data, evidence, staff, sessions, cards, deny list, audit trail.

Revision ID: 0002_identity
Revises: 0001_ledger
Create Date: 2026-11-23 12:26:33.492797
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from card_service.append_only import create_statements, drop_statements

APPEND_ONLY = ("audit_events", "cards_deny_list")


revision: str = "0002_identity"
down_revision: str | None = "0001_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=96), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_action", ["action", "position"], unique=False)
        batch_op.create_index("ix_audit_events_actor", ["actor", "position"], unique=False)
        batch_op.create_index("ix_audit_events_target", ["target", "position"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "identity_holders",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("pseudonym", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("national_id_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("pii", sa.LargeBinary(), nullable=True),
        sa.Column("purse_account_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_holders")),
        sa.UniqueConstraint("national_id_hash", name=op.f("uq_identity_holders_national_id_hash")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_identity_holders_pseudonym")),
    )
    op.create_table(
        "staff_accounts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=128), nullable=False),
        sa.Column("totp_secret", sa.LargeBinary(), nullable=True),
        sa.Column("totp_enrolled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_accounts_username")),
    )
    op.create_table(
        "cards",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("chip_uid", sa.String(length=32), nullable=True),
        sa.Column(
            "holder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("block_reason", sa.String(length=16), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("replaces_id", sa.BigInteger(), nullable=True),
        sa.Column("pin_hash", sa.String(length=128), nullable=True),
        sa.Column("pin_failures", sa.Integer(), nullable=False),
        sa.Column("issued_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["identity_holders.id"], name=op.f("fk_cards_holder_id_identity_holders")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["staff_accounts.id"], name=op.f("fk_cards_issued_by_staff_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("chip_uid", name=op.f("uq_cards_chip_uid")),
        sa.UniqueConstraint("number", name=op.f("uq_cards_number")),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cards_holder_id"), ["holder_id"], unique=False)
        batch_op.create_index(
            "uq_cards_live_holder",
            ["holder_id"],
            unique=True,
            postgresql_where=sa.text("status IN ('requested', 'active')"),
            sqlite_where=sa.text("status IN ('requested', 'active')"),
        )

    op.create_table(
        "identity_data_keys",
        sa.Column(
            "holder_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("key_id", sa.LargeBinary(length=8), nullable=False),
        sa.Column("master_key_id", sa.String(length=16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_identity_data_keys_holder_id_identity_holders"),
        ),
        sa.PrimaryKeyConstraint("holder_id", name=op.f("pk_identity_data_keys")),
    )
    with op.batch_alter_table("identity_data_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_data_keys_master_key_id"), ["master_key_id"], unique=False
        )

    op.create_table(
        "identity_evidence",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "holder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("doc_type", sa.String(length=48), nullable=False),
        sa.Column("number_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "checked_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["checked_by"],
            ["staff_accounts.id"],
            name=op.f("fk_identity_evidence_checked_by_staff_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_identity_evidence_holder_id_identity_holders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_evidence")),
    )
    with op.batch_alter_table("identity_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_evidence_holder_id"), ["holder_id"], unique=False
        )

    op.create_table(
        "auth_sessions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_auth_sessions_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_auth_sessions_staff_id_staff_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_sessions_token_hash")),
    )
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_sessions_card_id"), ["card_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_auth_sessions_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "cards_deny_list",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("card_number", sa.String(length=16), nullable=False),
        sa.Column("chip_uid", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_cards_deny_list_card_id_cards")
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_cards_deny_list")),
    )
    with op.batch_alter_table("cards_deny_list", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cards_deny_list_card_id"), ["card_id"], unique=False)

    op.execute(
        sa.text("INSERT INTO audit_head (id, position, hash) VALUES (1, 0, :h)").bindparams(
            sa.bindparam("h", b"\x00" * 32, type_=sa.LargeBinary)
        )
    )
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for statement in create_statements(dialect, table):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for statement in drop_statements(dialect, table):
            op.execute(statement)
    with op.batch_alter_table("cards_deny_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cards_deny_list_card_id"))

    op.drop_table("cards_deny_list")
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_sessions_staff_id"))
        batch_op.drop_index(batch_op.f("ix_auth_sessions_card_id"))

    op.drop_table("auth_sessions")
    with op.batch_alter_table("identity_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_evidence_holder_id"))

    op.drop_table("identity_evidence")
    with op.batch_alter_table("identity_data_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_data_keys_master_key_id"))

    op.drop_table("identity_data_keys")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_cards_live_holder",
            postgresql_where=sa.text("status IN ('requested', 'active')"),
            sqlite_where=sa.text("status IN ('requested', 'active')"),
        )
        batch_op.drop_index(batch_op.f("ix_cards_holder_id"))

    op.drop_table("cards")
    op.drop_table("staff_accounts")
    op.drop_table("identity_holders")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_target")
        batch_op.drop_index("ix_audit_events_actor")
        batch_op.drop_index("ix_audit_events_action")

    op.drop_table("audit_events")
