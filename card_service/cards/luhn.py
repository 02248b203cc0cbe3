"""Card numbers: 16 digits, the last a Luhn check digit (ISO/IEC 7812)."""

from __future__ import annotations

import secrets

ISSUER_PREFIX = "9724"  # the city's issuer prefix: 97 (private), 24 (Asturias)
LENGTH = 16


def check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_valid(number: str) -> bool:
    return len(number) == LENGTH and number.isdigit() and check_digit(number[:-1]) == number[-1]


def new_number() -> str:
    digits = LENGTH - len(ISSUER_PREFIX) - 1
    body = ISSUER_PREFIX + f"{secrets.randbelow(10**digits):0{digits}d}"
    return body + check_digit(body)
