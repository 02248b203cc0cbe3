"""FareRules: one parsed, validated, immutable catalogue version, indexed for fast quotes.

``FareRules.from_dict`` checks everything (a bad dict raises ``RulesInvalid`` with the path of the
offending key); ``to_dict`` gives back the same JSON-able dict, which validators receive in a
signed snapshot. The format is described in docs/reference/catalogue.md.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from card_service.protocol.fees import validate as v
from card_service.protocol.fees.errors import RulesInvalid

KINDS = ("identify", "charge", "both")
UNITS = ("each", "minute", "cent")


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    names: Mapping[str, str]
    kind: str  # age | proof
    under: int | None = None  # age category: younger than this many years
    from_age: int | None = None  # age category: this age or older


@dataclass(frozen=True, slots=True)
class PassTerms:
    covers: str  # the product each entry of the pass stands for
    entries: int
    valid: timedelta | None


@dataclass(frozen=True, slots=True)
class Product:
    service: str
    code: str
    names: Mapping[str, str]
    label: str  # "Urban bus, single fare": for explanations
    price_cents: int  # per block (per item for unit "each")
    unit: str  # each | minute | cent
    block: int  # units per charged block
    free_units: int  # units at the start that cost nothing
    max_units: int | None
    # (unit price, category) ascending by price, ties in catalogue category order
    concessions: tuple[tuple[int, str], ...]
    needs_age: bool  # some concession is an age category
    pass_terms: PassTerms | None


@dataclass(frozen=True, slots=True)
class Service:
    code: str
    names: Mapping[str, str]
    kind: str
    products: Mapping[str, Product]
    cap_day_cents: int | None
    cap_week_cents: int | None
    capped: frozenset[str]  # products whose holder payments count towards the caps
    transfer_window: timedelta | None
    transfer_max: int
    transfer_products: frozenset[str]
    passes_for: Mapping[str, frozenset[str]]  # product -> the pass products covering it


@dataclass(frozen=True)
class FareRules:
    version: str
    city: str
    timezone: tzinfo
    day_starts: time
    categories: Mapping[str, Category]
    services: Mapping[str, Service]
    age_categories: tuple[Category, ...]
    product_services: Mapping[str, frozenset[str]]  # product code -> services offering one
    _data: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def day_offset(self) -> timedelta:
        return timedelta(hours=self.day_starts.hour, minutes=self.day_starts.minute)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self._data))

    def canonical_json(self) -> str:
        return json.dumps(self._data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: Any) -> FareRules:
        top = v.mapping(
            d,
            (),
            {"version", "city", "timezone", "day_starts", "categories", "services"},
            {"version", "city", "timezone", "day_starts", "categories", "services"},
        )
        version = v.text(top["version"], ("version",))
        try:
            tz = ZoneInfo(v.text(top["timezone"], ("timezone",)))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise RulesInvalid(("timezone",), f"unknown time zone {top['timezone']!r}") from exc
        hour, minute = v.hhmm(top["day_starts"], ("day_starts",))
        categories = _categories(top["categories"])
        services = {
            code: _service(code, raw, categories)
            for code, raw in v.table(top["services"], ("services",), "services").items()
        }
        offered: dict[str, set[str]] = {}
        for service in services.values():
            for product in service.products:
                offered.setdefault(product, set()).add(service.code)
        return cls(
            version=version,
            city=v.text(top["city"], ("city",)),
            timezone=tz,
            day_starts=time(hour, minute),
            categories=MappingProxyType(categories),
            services=MappingProxyType(services),
            age_categories=tuple(c for c in categories.values() if c.kind == "age"),
            product_services=MappingProxyType({k: frozenset(s) for k, s in offered.items()}),
            _data=json.loads(json.dumps(top)),
        )


def _categories(raw: Any) -> dict[str, Category]:
    out = {}
    for code, body in v.table(raw, ("categories",), "categories").items():
        path: v.Path = ("categories", code)
        got = v.mapping(body, path, {"kind", "names", "under", "from"}, {"kind", "names"})
        kind = v.choice(got["kind"], (*path, "kind"), ("age", "proof"))
        under = v.integer(got["under"], (*path, "under"), 1, 150) if "under" in got else None
        from_age = v.integer(got["from"], (*path, "from"), 1, 150) if "from" in got else None
        if kind == "age" and (under is None) == (from_age is None):
            raise RulesInvalid(path, "an age category has exactly one of 'under' or 'from'")
        if kind == "proof" and (under is not None or from_age is not None):
            raise RulesInvalid(path, "a proof category has no age limits")
        out[code] = Category(code, v.names(got["names"], (*path, "names")), kind, under, from_age)
    return out


_SERVICE_KEYS = {"names", "kind", "products", "caps", "transfer"}


def _service(code: str, raw: Any, categories: Mapping[str, Category]) -> Service:
    path: v.Path = ("services", code)
    got = v.mapping(raw, path, _SERVICE_KEYS, {"names", "kind", "products"})
    kind = v.choice(got["kind"], (*path, "kind"), KINDS)
    names = v.names(got["names"], (*path, "names"))
    products = {
        pcode: _product(code, pcode, body, categories, kind, names["en"])
        for pcode, body in v.table(got["products"], (*path, "products"), "products").items()
    }
    passes_for: dict[str, set[str]] = {}
    for product in products.values():
        if product.pass_terms is not None:
            covered = product.pass_terms.covers
            if covered not in products or products[covered].pass_terms is not None:
                raise RulesInvalid(
                    (*path, "products", product.code, "pass", "for"),
                    f"{covered!r} is not a single-entry product of this service",
                )
            if products[covered].unit != "each":
                raise RulesInvalid(
                    (*path, "products", product.code, "pass", "for"),
                    "a pass covers a per-item product",
                )
            passes_for.setdefault(covered, set()).add(product.code)
    day = week = None
    capped: frozenset[str] = frozenset()
    if "caps" in got:
        cpath = (*path, "caps")
        caps = v.mapping(got["caps"], cpath, {"day_cents", "week_cents", "products"}, set())
        day = (
            v.integer(caps["day_cents"], (*cpath, "day_cents"), 0) if "day_cents" in caps else None
        )
        week = (
            v.integer(caps["week_cents"], (*cpath, "week_cents"), 0)
            if "week_cents" in caps
            else None
        )
        if day is None and week is None:
            raise RulesInvalid(cpath, "a cap sets day_cents, week_cents or both")
        default = [p for p, prod in products.items() if prod.pass_terms is None]
        listed = (
            v.code_list(caps["products"], (*cpath, "products")) if "products" in caps else default
        )
        _known(listed, products, (*cpath, "products"))
        capped = frozenset(listed)
    window, most, transfer_products = None, 0, frozenset[str]()
    if "transfer" in got:
        tpath = (*path, "transfer")
        keys = {"window_minutes", "max_transfers", "products"}
        t = v.mapping(got["transfer"], tpath, keys, keys)
        window = timedelta(
            minutes=v.integer(t["window_minutes"], (*tpath, "window_minutes"), 1, 1440)
        )
        most = v.integer(t["max_transfers"], (*tpath, "max_transfers"), 0, 100)
        listed = v.code_list(t["products"], (*tpath, "products"))
        _known(listed, products, (*tpath, "products"))
        for p in listed:
            if products[p].unit != "each" or products[p].pass_terms is not None:
                raise RulesInvalid(
                    (*tpath, "products"), f"{p!r}: transfers are between single rides"
                )
        transfer_products = frozenset(listed)
    return Service(
        code=code,
        names=names,
        kind=kind,
        products=MappingProxyType(products),
        cap_day_cents=day,
        cap_week_cents=week,
        capped=capped,
        transfer_window=window,
        transfer_max=most,
        transfer_products=transfer_products,
        passes_for=MappingProxyType({k: frozenset(s) for k, s in passes_for.items()}),
    )


def _known(listed: list[str], products: Mapping[str, Product], path: v.Path) -> None:
    for p in listed:
        if p not in products:
            raise RulesInvalid(path, f"{p!r} is not a product of this service")


_PRODUCT_KEYS = {
    "names", "price_cents", "unit", "block", "free_units", "max_units", "concessions", "pass",
}  # fmt: skip


def _product(
    service: str,
    code: str,
    raw: Any,
    categories: Mapping[str, Category],
    kind: str,
    service_name: str,
) -> Product:
    path: v.Path = ("services", service, "products", code)
    got = v.mapping(raw, path, _PRODUCT_KEYS, {"names", "price_cents"})
    price = v.integer(got["price_cents"], (*path, "price_cents"), 0, 10_000_000)
    unit = v.choice(got.get("unit", "each"), (*path, "unit"), UNITS)
    block = v.integer(got.get("block", 1), (*path, "block"), 1, 100_000)
    free = v.integer(got.get("free_units", 0), (*path, "free_units"), 0, 100_000)
    most = (
        v.integer(got["max_units"], (*path, "max_units"), 1, 10**9) if "max_units" in got else None
    )
    if unit == "each" and (block != 1 or free or most is not None):
        raise RulesInvalid(
            path, "block, free_units and max_units are for per-minute or per-cent products"
        )
    if kind == "identify" and price:
        raise RulesInvalid((*path, "price_cents"), "a service that only identifies charges nothing")
    order = {c: i for i, c in enumerate(categories)}
    concessions = []
    raw_conc = got.get("concessions", {})
    cpath = (*path, "concessions")
    if not isinstance(raw_conc, dict):
        raise RulesInvalid(cpath, "must be a mapping of category to price_cents")
    for cat, cents in raw_conc.items():
        if cat not in categories:
            raise RulesInvalid((*cpath, str(cat)), f"{cat!r} is not a declared category")
        amount = v.integer(cents, (*cpath, cat), 0, price)
        concessions.append((amount, cat))
    concessions.sort(key=lambda pc: (pc[0], order[pc[1]]))
    terms = None
    if "pass" in got:
        ppath = (*path, "pass")
        p = v.mapping(got["pass"], ppath, {"for", "entries", "valid_days"}, {"for", "entries"})
        valid = p.get("valid_days")
        terms = PassTerms(
            covers=v.code(p["for"], (*ppath, "for")),
            entries=v.integer(p["entries"], (*ppath, "entries"), 1, 1000),
            valid=timedelta(days=v.integer(valid, (*ppath, "valid_days"), 1, 3660))
            if valid
            else None,
        )
        if unit != "each":
            raise RulesInvalid(ppath, "a pass is bought as one item (unit each)")
    names = v.names(got["names"], (*path, "names"))
    return Product(
        service=service,
        code=code,
        names=names,
        label=f"{service_name}, {names['en'][0].lower()}{names['en'][1:]}",
        price_cents=price,
        unit=unit,
        block=block,
        free_units=free,
        max_units=most,
        concessions=tuple(concessions),
        needs_age=any(categories[c].kind == "age" for _, c in concessions),
        pass_terms=terms,
    )
