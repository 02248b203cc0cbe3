"""Imports every domain's tables so that Base.metadata is complete (Alembic, tests)."""

from card_service.audit import models as audit_models
from card_service.bills import models as bills_models
from card_service.cards import models as cards_models
from card_service.catalogue import models as catalogue_models
from card_service.certificates import models as certificates_models
from card_service.charging import models as charging_models
from card_service.entitlements import models as entitlements_models
from card_service.identity import models as identity_models
from card_service.ledger import models as ledger_models
from card_service.me import models as me_models
from card_service.models_base import Base
from card_service.payments import models as payments_models
from card_service.services_api import models as services_api_models
from card_service.staff import models as staff_models
from card_service.terminals import models as terminals_models

__all__ = [
    "Base",
    "audit_models",
    "bills_models",
    "cards_models",
    "catalogue_models",
    "certificates_models",
    "charging_models",
    "entitlements_models",
    "identity_models",
    "ledger_models",
    "me_models",
    "payments_models",
    "services_api_models",
    "staff_models",
    "terminals_models",
]
