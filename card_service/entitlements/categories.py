"""Which categories a grant may name, and which of them need a second person (free fares).

Both come from the fare rules in force: the proof-based categories are the ones a grant can give
(age categories follow from the birth date by themselves); a category is a *free-fare* category
when some product with a price costs nothing in it. Such a grant needs a second member of staff.
"""

from __future__ import annotations

from card_service.entitlements.schemas import Categories
from card_service.protocol.fees import FareRules


def of_rules(rules: FareRules) -> Categories:
    known = frozenset(c.code for c in rules.categories.values() if c.kind == "proof")
    free = frozenset(
        category
        for service in rules.services.values()
        for product in service.products.values()
        for unit_price, category in product.concessions
        if category in known and unit_price == 0 and product.price_cents > 0
    )
    return Categories(known=known, free=free)


def age_categories(rules: FareRules) -> frozenset[str]:
    return frozenset(c.code for c in rules.age_categories)
