"""The city's services: catalogue versions, entitlements, service clients and charges (issue 4).

Revision ID: 0004_services
Revises: 0003_devices_counters
Create Date: 2026-11-23
"""

from collections.abc import Sequence

revision: str = "0004_services"
down_revision: str | None = "0003_devices_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
