"""Payments: Stripe events, top-ups, refunds, kiosk cash (issue 7).

Revision ID: 0005_payments
Revises: 0004_services
Create Date: 2026-11-23
"""

from collections.abc import Sequence

revision: str = "0005_payments"
down_revision: str | None = "0004_services"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
