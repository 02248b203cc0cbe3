"""Payments: Stripe events, top-ups, refunds, disputes, auto top-up, kiosk cash (issue 7).

Rejected webhooks, kiosk cash top-ups and kiosk closings are append-only.

Revision ID: 0005_payments
Revises: 0004_services
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import card_service.models_base
from card_service.append_only import create_statements, drop_statements

revision: str = "0005_payments"
down_revision: str | None = "0004_services"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("payments_webhook_rejections", "payments_kiosk_cash", "payments_kiosk_closings")


def upgrade() -> None:
    op.create_table(
        "payments_stripe_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_stripe_events")),
    )
    op.create_index(
        op.f("ix_payments_stripe_events_object_id"),
        "payments_stripe_events",
        ["object_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_payments_stripe_events_processed_at"),
        "payments_stripe_events",
        ["processed_at"],
        unique=False,
    )
    op.create_table(
        "payments_webhook_rejections",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=256), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("body_size", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_webhook_rejections")),
    )
    op.create_table(
        "payments_topups",
        sa.Column("id", card_service.models_base.UUIDBytes(length=16), nullable=False),
        sa.Column(
            "holder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stripe_payment_intent_id", sa.String(length=64), nullable=True),
        sa.Column("stripe_charge_id", sa.String(length=64), nullable=True),
        sa.Column("credited_cents", sa.BigInteger(), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.String(length=256), nullable=True),
        sa.Column("trigger", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_payments_topups_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_payments_topups_holder_id_identity_holders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_topups")),
        sa.UniqueConstraint(
            "stripe_payment_intent_id", name=op.f("uq_payments_topups_stripe_payment_intent_id")
        ),
    )
    op.create_index(
        op.f("ix_payments_topups_holder_id"), "payments_topups", ["holder_id"], unique=False
    )
    op.create_table(
        "payments_refunds",
        sa.Column("id", card_service.models_base.UUIDBytes(length=16), nullable=False),
        sa.Column("request_id", card_service.models_base.UUIDBytes(length=16), nullable=False),
        sa.Column("topup_id", card_service.models_base.UUIDBytes(length=16), nullable=False),
        sa.Column(
            "holder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stripe_refund_id", sa.String(length=64), nullable=True),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("failure", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_payments_refunds_holder_id_identity_holders"),
        ),
        sa.ForeignKeyConstraint(
            ["topup_id"],
            ["payments_topups.id"],
            name=op.f("fk_payments_refunds_topup_id_payments_topups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_refunds")),
        sa.UniqueConstraint("stripe_refund_id", name=op.f("uq_payments_refunds_stripe_refund_id")),
    )
    op.create_index(
        op.f("ix_payments_refunds_holder_id"), "payments_refunds", ["holder_id"], unique=False
    )
    op.create_index(
        op.f("ix_payments_refunds_request_id"), "payments_refunds", ["request_id"], unique=False
    )
    op.create_index(
        op.f("ix_payments_refunds_topup_id"), "payments_refunds", ["topup_id"], unique=False
    )
    # ### end Alembic commands ###
    op.create_table(
        "payments_disputes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("topup_id", card_service.models_base.UUIDBytes(length=16), nullable=False),
        sa.Column(
            "holder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("from_purse_cents", sa.BigInteger(), nullable=False),
        sa.Column("debt_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_payments_disputes_holder_id_identity_holders"),
        ),
        sa.ForeignKeyConstraint(
            ["topup_id"],
            ["payments_topups.id"],
            name=op.f("fk_payments_disputes_topup_id_payments_topups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_disputes")),
    )
    op.create_index(
        op.f("ix_payments_disputes_holder_id"), "payments_disputes", ["holder_id"], unique=False
    )
    op.create_index(
        op.f("ix_payments_disputes_topup_id"), "payments_disputes", ["topup_id"], unique=False
    )
    op.create_table(
        "payments_auto_topups",
        sa.Column(
            "holder_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("stripe_customer_id", sa.String(length=64), nullable=False),
        sa.Column("payment_method_id", sa.String(length=64), nullable=True),
        sa.Column("payment_method_label", sa.String(length=48), nullable=True),
        sa.Column("threshold_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=256), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_payments_auto_topups_holder_id_identity_holders"),
        ),
        sa.PrimaryKeyConstraint("holder_id", name=op.f("pk_payments_auto_topups")),
        sa.UniqueConstraint(
            "stripe_customer_id", name=op.f("uq_payments_auto_topups_stripe_customer_id")
        ),
    )
    op.create_table(
        "payments_kiosk_cash",
        sa.Column("id", card_service.models_base.UUIDBytes(length=16), nullable=False),
        sa.Column("kiosk_id", sa.String(length=48), nullable=False),
        sa.Column(
            "holder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", card_service.models_base.UUIDBytes(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_payments_kiosk_cash_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_payments_kiosk_cash_holder_id_identity_holders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_kiosk_cash")),
    )
    op.create_index(
        op.f("ix_payments_kiosk_cash_kiosk_id"), "payments_kiosk_cash", ["kiosk_id"], unique=False
    )
    op.create_table(
        "payments_kiosk_closings",
        sa.Column("id", card_service.models_base.UUIDBytes(length=16), nullable=False),
        sa.Column("kiosk_id", sa.String(length=48), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("topups", sa.Integer(), nullable=False),
        sa.Column("expected_cents", sa.BigInteger(), nullable=False),
        sa.Column("counted_cents", sa.BigInteger(), nullable=False),
        sa.Column("difference_cents", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_kiosk_closings")),
    )
    op.create_index(
        op.f("ix_payments_kiosk_closings_kiosk_id"),
        "payments_kiosk_closings",
        ["kiosk_id"],
        unique=False,
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
    op.drop_index(op.f("ix_payments_kiosk_closings_kiosk_id"), table_name="payments_kiosk_closings")
    op.drop_table("payments_kiosk_closings")
    op.drop_index(op.f("ix_payments_kiosk_cash_kiosk_id"), table_name="payments_kiosk_cash")
    op.drop_table("payments_kiosk_cash")
    op.drop_table("payments_auto_topups")
    op.drop_index(op.f("ix_payments_disputes_topup_id"), table_name="payments_disputes")
    op.drop_index(op.f("ix_payments_disputes_holder_id"), table_name="payments_disputes")
    op.drop_table("payments_disputes")
    op.drop_index(op.f("ix_payments_refunds_topup_id"), table_name="payments_refunds")
    op.drop_index(op.f("ix_payments_refunds_request_id"), table_name="payments_refunds")
    op.drop_index(op.f("ix_payments_refunds_holder_id"), table_name="payments_refunds")
    op.drop_table("payments_refunds")
    op.drop_index(op.f("ix_payments_topups_holder_id"), table_name="payments_topups")
    op.drop_table("payments_topups")
    op.drop_table("payments_webhook_rejections")
    op.drop_index(
        op.f("ix_payments_stripe_events_processed_at"), table_name="payments_stripe_events"
    )
    op.drop_index(op.f("ix_payments_stripe_events_object_id"), table_name="payments_stripe_events")
    op.drop_table("payments_stripe_events")
