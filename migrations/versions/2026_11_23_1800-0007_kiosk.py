"""Bills, certificates and kiosk sessions (issue 8).

Revision ID: 0007_kiosk
Revises: 0006_terminals
Create Date: 2026-11-23
"""

from collections.abc import Sequence

revision: str = "0007_kiosk"
down_revision: str | None = "0006_terminals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
