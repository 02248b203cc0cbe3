"""Terminal enrolment, snapshots and settled tap batches (issue 6).

Revision ID: 0006_terminals
Revises: 0005_payments
Create Date: 2026-11-23
"""

from collections.abc import Sequence

revision: str = "0006_terminals"
down_revision: str | None = "0005_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
