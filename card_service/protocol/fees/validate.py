"""Small typed readers for the fare rules dict: each failure names the path of the bad key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from card_service.protocol.fees.errors import RulesInvalid

Path = tuple[str | int, ...]
CODE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
LANGUAGES = ("es", "ast", "en")


def mapping(value: Any, path: Path, allowed: set[str], required: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise RulesInvalid(path, f"must be a mapping, not {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise RulesInvalid(path, f"key {key!r} must be text")
        if key not in allowed:
            raise RulesInvalid((*path, key), f"unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in value:
            raise RulesInvalid(path, f"missing key {key!r}")
    return value


def table(value: Any, path: Path, what: str) -> Mapping[str, Any]:
    """A mapping whose keys are codes (services, products, categories)."""
    if not isinstance(value, dict) or not value:
        raise RulesInvalid(path, f"must be a non-empty mapping of {what}")
    for key in value:
        code(key, (*path, str(key)))
    return value


def code(value: Any, path: Path) -> str:
    if not isinstance(value, str) or not CODE.match(value):
        raise RulesInvalid(
            path, f"{value!r} is not a code (a-z, 0-9, _; 1 to 16 ASCII, a letter first)"
        )
    return value


def text(value: Any, path: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RulesInvalid(path, "must be non-empty text")
    return value


def integer(value: Any, path: Path, low: int = 0, high: int = 10**9) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RulesInvalid(path, f"must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise RulesInvalid(path, f"must be between {low} and {high}, not {value}")
    return value


def choice(value: Any, path: Path, options: tuple[str, ...]) -> str:
    if value not in options:
        raise RulesInvalid(path, f"must be one of {', '.join(options)}, not {value!r}")
    return str(value)


def names(value: Any, path: Path) -> dict[str, str]:
    got = mapping(value, path, set(LANGUAGES), set(LANGUAGES))
    return {lang: text(got[lang], (*path, lang)) for lang in LANGUAGES}


def hhmm(value: Any, path: Path) -> tuple[int, int]:
    if not isinstance(value, str) or not re.fullmatch(r"\d\d:\d\d", value):
        raise RulesInvalid(
            path, 'must be a quoted "HH:MM" time (unquoted, YAML 1.1 reads 14:30 as the number 870)'
        )
    hour, minute = int(value[:2]), int(value[3:])
    if hour > 23 or minute > 59:
        raise RulesInvalid(path, f"{value} is not a time of day")
    return hour, minute


def code_list(value: Any, path: Path) -> list[str]:
    if not isinstance(value, list) or not value:
        raise RulesInvalid(path, "must be a non-empty list of codes")
    return [code(item, (*path, i)) for i, item in enumerate(value)]
