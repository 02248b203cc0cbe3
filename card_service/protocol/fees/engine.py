"""The fee engine: what one use costs the holder and the concession budget (pure, offline-safe).

Order of the rules (docs/decisions/0005-fare-rules.md): a unit product inside its free units
costs nothing; an entry covered by a pass with entries left costs nothing (``pass_entry``); a ride
inside the transfer window of a first boarding costs nothing (``transfer``); otherwise the best
price among the base price and the concessions the rider holds at that moment; finally the day and
week caps of the service limit what the holder pays (the concession part is unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from card_service.protocol.fees.errors import (
    ProductNotOfService,
    ProductUnknown,
    QuantityInvalid,
    ServiceUnknown,
)
from card_service.protocol.fees.rules import FareRules, Product, Service


@dataclass(frozen=True, slots=True)
class Rider:
    """What the engine knows of a holder at the moment of use."""

    birth_date: date | None
    categories: frozenset[str]  # proof-based categories granted and valid at the moment of use


@dataclass(frozen=True, slots=True)
class Use:
    """One earlier use by the same holder; a sequence of them is oldest first."""

    service: str
    product: str
    at: datetime
    price_cents: int
    holder_cents: int
    rule: str


@dataclass(frozen=True, slots=True)
class Quote:
    service: str
    product: str
    price_cents: int  # the price of this use before concessions (0 for transfers, pass entries)
    holder_cents: int  # what the holder pays
    concession_cents: int  # what the concession budget pays
    concession_category: str | None  # whose budget (None when 0)
    rule: str  # stable id of the rule that applied
    explanation: str  # one line a clerk can read out (English)


# Stable rule ids (see docs/reference/catalogue.md).
BASE = "base"
CONCESSION = "concession"
FREE_UNITS = "free_units"
PASS_ENTRY = "pass_entry"  # noqa: S105 (a rule id, not a secret)
TRANSFER = "transfer"
CAP_DAY = "cap_day"
CAP_WEEK = "cap_week"


def age_on(birth: date, day: date) -> int:
    """Whole years on ``day``. Born on 29 February: one year older on 1 March in common years."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def categories_at(rules: FareRules, rider: Rider, at: datetime) -> frozenset[str]:
    """Every category the rider holds at ``at``: the proof-based ones plus those of their age."""
    return rider.categories | _age_categories(rules, rider, at)


def _age_categories(rules: FareRules, rider: Rider, at: datetime) -> frozenset[str]:
    if rider.birth_date is None or not rules.age_categories:
        return frozenset()
    age = age_on(rider.birth_date, at.astimezone(rules.timezone).date())
    return frozenset(
        c.code
        for c in rules.age_categories
        if (c.under is not None and age < c.under) or (c.from_age is not None and age >= c.from_age)
    )


def _lookup(rules: FareRules, service: str, product: str) -> tuple[Service, Product]:
    svc = rules.services.get(service)
    if svc is None:
        raise ServiceUnknown(f"no service {service!r} in catalogue {rules.version}")
    prod = svc.products.get(product)
    if prod is None:
        if product in rules.product_services:
            raise ProductNotOfService(f"{product!r} is not a product of {service!r}")
        raise ProductUnknown(f"no product {product!r} in catalogue {rules.version}")
    return svc, prod


def _blocks(prod: Product, quantity: int) -> int:
    if prod.unit == "each":
        if quantity != 1:
            raise QuantityInvalid(f"{prod.service}.{prod.code} is sold one at a time")
        return 1
    if quantity < 0 or (prod.max_units is not None and quantity > prod.max_units):
        raise QuantityInvalid(f"{prod.service}.{prod.code}: {quantity} {prod.unit}s is not allowed")
    charged = quantity - prod.free_units
    return 0 if charged <= 0 else -(-charged // prod.block)


def quote(
    rules: FareRules,
    rider: Rider,
    service: str,
    product: str,
    at: datetime,
    recent: Sequence[Use] = (),
    quantity: int = 1,
) -> Quote:
    """Price one use at ``at`` (timezone-aware) given the holder's earlier uses, oldest first."""
    if at.tzinfo is None:
        raise ValueError("the moment of use must be timezone-aware")
    svc, prod = _lookup(rules, service, product)
    blocks = _blocks(prod, quantity)
    if blocks == 0:
        return _free(prod, FREE_UNITS, f"within the first {prod.free_units} {prod.unit}s: free")
    if product in svc.passes_for and _pass_entries_left(svc, product, at, recent) > 0:
        return _free(prod, PASS_ENTRY, "entry on a multi-entry pass: nothing to pay")
    if product in svc.transfer_products and _transfer_allowed(svc, at, recent):
        return _free(prod, TRANSFER, "free transfer within the window of the first boarding")
    price = blocks * prod.price_cents
    holder, category, rule = price, None, BASE
    if prod.concessions:
        age_cats = _age_categories(rules, rider, at) if prod.needs_age else frozenset()
        for unit_price, cat in prod.concessions:
            if unit_price >= prod.price_cents:
                break
            if cat in rider.categories or cat in age_cats:
                holder, category, rule = blocks * unit_price, cat, CONCESSION
                break
    concession = price - holder
    if svc.capped and product in svc.capped and holder > 0:
        room, cap_rule = _cap_room(rules, svc, at, recent)
        if room < holder:
            holder, rule = room, cap_rule
    return Quote(
        service=service,
        product=product,
        price_cents=holder + concession,
        holder_cents=holder,
        concession_cents=concession,
        concession_category=category if concession else None,
        rule=rule,
        explanation=_explain(prod, holder, concession, category, rule),
    )


def _free(prod: Product, rule: str, why: str) -> Quote:
    return Quote(prod.service, prod.code, 0, 0, 0, None, rule, f"{prod.label}: {why}")


def _pass_entries_left(svc: Service, product: str, at: datetime, recent: Sequence[Use]) -> int:
    """Entries left at ``at`` on the passes in ``recent``; each entry uses the oldest valid pass."""
    passes = svc.passes_for[product]
    expires: list[datetime | None] = []  # per pass bought, in purchase order
    left: list[int] = []
    for use in recent:
        if use.at > at or use.service != svc.code:
            continue
        if use.product in passes:
            terms = svc.products[use.product].pass_terms
            assert terms is not None
            expires.append(use.at + terms.valid if terms.valid else None)
            left.append(terms.entries)
        elif use.product == product and use.rule == PASS_ENTRY:
            for i, until in enumerate(expires):
                if left[i] and (until is None or use.at < until):
                    left[i] -= 1
                    break
    return sum(n for n, until in zip(left, expires, strict=True) if until is None or at < until)


def _transfer_allowed(svc: Service, at: datetime, recent: Sequence[Use]) -> bool:
    window = svc.transfer_window
    assert window is not None
    transfers = 0
    for use in reversed(recent):
        if use.service != svc.code or use.product not in svc.transfer_products or use.at > at:
            continue
        if at - use.at > window:
            return False
        if use.rule == TRANSFER:
            transfers += 1
            continue
        return transfers < svc.transfer_max  # the first boarding of this journey
    return False


def period_starts(rules: FareRules, at: datetime) -> tuple[datetime, datetime]:
    """Start of the service day and of the service week (Monday) that ``at`` falls in."""
    local = at.astimezone(rules.timezone)
    day = (local.replace(tzinfo=None) - rules.day_offset).date()
    day_start = datetime.combine(day, rules.day_starts, tzinfo=rules.timezone)
    week_start = datetime.combine(
        day - timedelta(days=day.weekday()), rules.day_starts, tzinfo=rules.timezone
    )
    return day_start, week_start


def _cap_room(
    rules: FareRules, svc: Service, at: datetime, recent: Sequence[Use]
) -> tuple[int, str]:
    day_start, week_start = period_starts(rules, at)
    spent_day = spent_week = 0
    for use in recent:
        if use.service != svc.code or use.product not in svc.capped or use.at > at:
            continue
        if use.at >= week_start:
            spent_week += use.holder_cents
            if use.at >= day_start:
                spent_day += use.holder_cents
    room, rule = 1 << 62, BASE
    if svc.cap_week_cents is not None:
        room, rule = max(0, svc.cap_week_cents - spent_week), CAP_WEEK
    if svc.cap_day_cents is not None and svc.cap_day_cents - spent_day < room:
        room, rule = max(0, svc.cap_day_cents - spent_day), CAP_DAY
    return room, rule


def _eur(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d} EUR"


def _explain(prod: Product, holder: int, concession: int, category: str | None, rule: str) -> str:
    head = f"{prod.label}: you pay {_eur(holder)}"
    if concession and category is not None:
        head += f"; the {category} concession pays {_eur(concession)}"
    if rule == CAP_DAY:
        return head + " (daily cap reached)"
    if rule == CAP_WEEK:
        return head + " (weekly cap reached)"
    if rule == BASE:
        return head + " (full price)"
    return head
