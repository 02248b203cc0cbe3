"""Purses get the offline allowance below zero (issue 6: offline taps may take a purse below
zero down to its floor). Purses opened before had floor 0; new ones are opened with
``card_service.cards.purse.OFFLINE_FLOOR_CENTS``. An account's floor is its configuration, not a
ledger entry: no entry changes.

Revision ID: 0009_purse_floor
Revises: 0008_names
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_purse_floor"
down_revision: str | None = "0008_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OFFLINE_FLOOR_CENTS = 500  # the value of card_service.cards.purse when this was written


def upgrade() -> None:
    op.execute(
        "UPDATE ledger_accounts SET floor_cents = "
        f"{OFFLINE_FLOOR_CENTS} WHERE kind = 'purse' AND COALESCE(floor_cents, 0) = 0"
    )


def downgrade() -> None:
    # Only purses still within zero: one already below it keeps the floor that allowed that.
    op.execute(
        "UPDATE ledger_accounts SET floor_cents = 0 WHERE kind = 'purse' "
        f"AND floor_cents = {OFFLINE_FLOOR_CENTS} AND debits_posted <= credits_posted"
    )
