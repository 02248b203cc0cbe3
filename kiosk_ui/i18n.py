"""The three languages of every screen (es, ast, en) and how amounts and times are written."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

LANGS = ("es", "ast", "en")
DEFAULT = "es"
_DIR = Path(__file__).parent / "locales"
TZ = ZoneInfo("Europe/Madrid")


@cache
def messages(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def pick(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT


def t(lang: str, key: str, **params: Any) -> str:
    text = messages(pick(lang)).get(key) or messages("en").get(key) or key
    return text.format(**params) if params else text


def money(cents: int, lang: str) -> str:
    """``12,50 EUR`` in es/ast, ``12.50 EUR`` in en; always two decimals and the currency."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    sep = "." if lang == "en" else ","
    group = "," if lang == "en" else "."
    digits = f"{whole:,}".replace(",", group)
    return f"{sign}{digits}{sep}{frac:02d} EUR"


def clock(timestamp_ns: int) -> str:
    return datetime.fromtimestamp(timestamp_ns / 1e9, TZ).strftime("%H:%M")


def day(value: date | datetime | str | int, lang: str) -> str:
    if isinstance(value, int):
        value = datetime.fromtimestamp(value, UTC).astimezone(TZ)
    elif isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value.strftime("%m/%d/%Y") if lang == "en" else value.strftime("%d/%m/%Y")
