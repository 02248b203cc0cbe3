"""Spanish national identifiers: DNI and NIE for persons, CIF (company NIF) for organisations.

Each carries a check character; ``normalise_*`` returns the canonical form or raises
NationalIdInvalid, so a typo never reaches the database.
"""

from __future__ import annotations

import re

from card_service.identity.errors import NationalIdInvalid

DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_DNI = re.compile(r"^(\d{8})([A-Z])$")
_NIE = re.compile(r"^([XYZ])(\d{7})([A-Z])$")
_CIF = re.compile(r"^([ABCDEFGHJNPQRSUVW])(\d{7})([0-9A-J])$")
_CIF_LETTER_ONLY = set("NPQRSW")
_CIF_DIGIT_ONLY = set("ABEH")


def _clean(raw: str) -> str:
    return re.sub(r"[\s.\-]", "", raw).upper()


def dni_letter(number: int) -> str:
    return DNI_LETTERS[number % 23]


def cif_control(body: str) -> tuple[str, str]:
    """The two acceptable control characters (digit, letter) for the 7 digits of a CIF."""
    total = 0
    for i, ch in enumerate(body):
        d = int(ch)
        if i % 2 == 0:  # positions 1, 3, 5, 7 (1-based) are doubled
            d *= 2
            d = d // 10 + d % 10
        total += d
    digit = (10 - total % 10) % 10
    return str(digit), "JABCDEFGHI"[digit]


def normalise_person_id(raw: str) -> str:
    """A DNI (12345678Z) or NIE (X1234567L) with its check letter verified."""
    value = _clean(raw)
    if m := _DNI.match(value):
        if dni_letter(int(m.group(1))) == m.group(2):
            return value
        raise NationalIdInvalid("the DNI check letter does not match the number")
    if m := _NIE.match(value):
        number = int(str("XYZ".index(m.group(1))) + m.group(2))
        if dni_letter(number) == m.group(3):
            return value
        raise NationalIdInvalid("the NIE check letter does not match the number")
    raise NationalIdInvalid(
        "a DNI is 8 digits and a letter; a NIE is X, Y or Z, 7 digits, a letter"
    )


def normalise_organisation_id(raw: str) -> str:
    """A company NIF (CIF: letter, 7 digits, control digit or letter) with its control verified."""
    value = _clean(raw)
    m = _CIF.match(value)
    if not m:
        raise NationalIdInvalid("a company NIF is a letter, 7 digits and a control character")
    kind, body, control = m.groups()
    digit, letter = cif_control(body)
    allowed = (
        {letter}
        if kind in _CIF_LETTER_ONLY
        else {digit}
        if kind in _CIF_DIGIT_ONLY
        else {digit, letter}
    )
    if control not in allowed:
        raise NationalIdInvalid("the company NIF control character does not match")
    return value
