"""Imports every domain's tables so that Base.metadata is complete (Alembic, tests)."""

from card_service.ledger import models as ledger_models
from card_service.models_base import Base

__all__ = ["Base", "ledger_models"]
