"""Loading catalogue versions and finding the one in force (services flush, never commit).

A version takes effect at its ``effective_from``, which may not be in the past: a price change is
never retroactive. The parsed rules of each version are cached in the process (keyed by the
version, which is derived from the file's content), since every quote reads them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.catalogue import source
from card_service.catalogue.errors import CatalogueNotLoaded, EffectiveFromPast, from_engine
from card_service.catalogue.models import CatalogueVersion
from card_service.protocol import fees
from card_service.protocol.fees import FareRules, Quote, Rider, Use
from card_service.protocol.fees.rules import Product

_CACHE_SIZE = 16
_cache: OrderedDict[str, FareRules] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class VersionInfo:
    id: int
    version: str
    content_hash: str
    effective_from: datetime
    loaded_at: datetime
    loaded_by: str
    created: bool  # False when the same file was already loaded for the same moment


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return dt.astimezone(UTC)


def _remember(rules: FareRules) -> FareRules:
    with _lock:
        _cache[rules.version] = rules
        _cache.move_to_end(rules.version)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return rules


def load(
    session: Session,
    text: str,
    effective_from: datetime,
    actor: Actor,
    *,
    now: datetime | None = None,
) -> VersionInfo:
    """Validate a whole catalogue file and schedule it from ``effective_from`` (aware, not past).

    A file that does not validate raises ``CatalogueInvalid`` (with its line) and changes nothing:
    the catalogue in force stays in force. Loading the same file for the same moment again returns
    the version already stored.
    """
    if effective_from.tzinfo is None:
        raise EffectiveFromPast("effective_from needs a time zone (e.g. 2026-12-01T04:30+01:00)")
    when = _utc(effective_from)
    now = _utc(now or datetime.now(UTC))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    version = "c" + digest.hex()[:16]
    rules = source.parse(text, version)
    same = session.scalars(
        select(CatalogueVersion).where(
            CatalogueVersion.version == version, CatalogueVersion.effective_from == when
        )
    ).first()
    if same is not None:
        return _info(same, created=False)
    if when < now:
        raise EffectiveFromPast(
            f"effective_from {when.isoformat()} is before now ({now.isoformat()}): "
            "a price change is never retroactive"
        )
    row = CatalogueVersion(
        version=version,
        content_hash=digest,
        source=text,
        rules=rules.canonical_json(),
        effective_from=when,
        loaded_at=now,
        loaded_by=actor.id[:64],
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "catalogue.load",
        f"catalogue:{version}",
        reason=f"in force from {when.isoformat()}",
    )
    _remember(rules)
    return _info(row, created=True)


def _info(row: CatalogueVersion, created: bool) -> VersionInfo:
    return VersionInfo(
        id=row.id,
        version=row.version,
        content_hash=row.content_hash.hex(),
        effective_from=_utc(row.effective_from),
        loaded_at=_utc(row.loaded_at),
        loaded_by=row.loaded_by,
        created=created,
    )


def in_force(session: Session, at: datetime) -> FareRules:
    """The fare rules in force at ``at``: the latest effective_from not after it."""
    row = session.execute(
        select(CatalogueVersion.id, CatalogueVersion.version)
        .where(CatalogueVersion.effective_from <= _utc(at))
        .order_by(CatalogueVersion.effective_from.desc(), CatalogueVersion.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise CatalogueNotLoaded(f"no catalogue is in force at {_utc(at).isoformat()}")
    with _lock:
        cached = _cache.get(row.version)
    if cached is not None:
        return cached
    text = session.scalar(select(CatalogueVersion.rules).where(CatalogueVersion.id == row.id))
    assert text is not None
    return _remember(FareRules.from_dict(json.loads(text)))


def versions(session: Session) -> list[VersionInfo]:
    """Every loaded version, by effective_from then load order."""
    rows = session.scalars(
        select(CatalogueVersion).order_by(CatalogueVersion.effective_from, CatalogueVersion.id)
    )
    return [_info(r, created=False) for r in rows]


def quote(
    session: Session,
    rider: Rider,
    service: str,
    product: str,
    at: datetime,
    recent: Sequence[Use] = (),
    quantity: int = 1,
) -> Quote:
    """The fee engine on the rules in force at ``at``, its errors as named domain errors."""
    rules = in_force(session, at)
    try:
        return fees.quote(rules, rider, service, product, at, recent, quantity)
    except fees.FeeError as exc:
        raise from_engine(exc) from exc


def product(rules: FareRules, service: str, product: str) -> Product:
    """The product, or the named error (unknown service or product, product of another service)."""
    svc = rules.services.get(service)
    if svc is None:
        raise from_engine(fees.ServiceUnknown(f"no service {service!r} in the catalogue"))
    found = svc.products.get(product)
    if found is None:
        if product in rules.product_services:
            raise from_engine(
                fees.ProductNotOfService(f"{product!r} is not a product of {service!r}")
            )
        raise from_engine(fees.ProductUnknown(f"no product {product!r} in the catalogue"))
    return found
