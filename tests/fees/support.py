"""The demo catalogue as fare rules, and helpers to replay a holder's day through the engine."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from card_service.protocol.fees import FareRules, Quote, Rider, Use, quote

GIJON_FILE = Path(__file__).parents[2] / "card_service" / "catalogue" / "data" / "gijon.yaml"
MADRID = ZoneInfo("Europe/Madrid")
NOBODY = Rider(birth_date=None, categories=frozenset())


def gijon_dict() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(GIJON_FILE.read_text(encoding="utf-8"))
    return {**data, "version": "gijon-test"}


GIJON = FareRules.from_dict(gijon_dict())


def local(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MADRID)


def adult(*categories: str) -> Rider:
    return Rider(birth_date=date(1980, 6, 15), categories=frozenset(categories))


def as_use(q: Quote, at: datetime) -> Use:
    return Use(q.service, q.product, at, q.price_cents, q.holder_cents, q.rule)


def replay(
    rules: FareRules, rider: Rider, taps: Iterable[tuple[str, str, datetime]]
) -> list[tuple[Quote, datetime]]:
    """Quote each tap (oldest first) with every earlier use as ``recent``."""
    uses: list[Use] = []
    out = []
    for service, product, at in taps:
        q = quote(rules, rider, service, product, at, uses)
        uses.append(as_use(q, at))
        out.append((q, at))
    return out
