"""The fee engine validators run offline: fare rules, riders, uses and quotes (pure Python)."""

from __future__ import annotations

from card_service.protocol.fees.engine import (
    BASE,
    CAP_DAY,
    CAP_WEEK,
    CONCESSION,
    FREE_UNITS,
    PASS_ENTRY,
    TRANSFER,
    Quote,
    Rider,
    Use,
    age_on,
    categories_at,
    period_starts,
    quote,
)
from card_service.protocol.fees.errors import (
    FeeError,
    ProductNotOfService,
    ProductUnknown,
    QuantityInvalid,
    RulesInvalid,
    ServiceUnknown,
)
from card_service.protocol.fees.rules import FareRules

__all__ = [
    "BASE",
    "CAP_DAY",
    "CAP_WEEK",
    "CONCESSION",
    "FREE_UNITS",
    "PASS_ENTRY",
    "TRANSFER",
    "FareRules",
    "FeeError",
    "ProductNotOfService",
    "ProductUnknown",
    "QuantityInvalid",
    "Quote",
    "Rider",
    "RulesInvalid",
    "ServiceUnknown",
    "Use",
    "age_on",
    "categories_at",
    "period_starts",
    "quote",
]
