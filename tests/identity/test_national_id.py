"""DNI, NIE and company NIF check characters (properties over all numbers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from card_service.identity.errors import NationalIdInvalid
from card_service.identity.national_id import (
    DNI_LETTERS,
    cif_control,
    normalise_organisation_id,
    normalise_person_id,
)

numbers = st.integers(min_value=0, max_value=99_999_999)


def test_known_documents() -> None:
    assert normalise_person_id("12345678z") == "12345678Z"
    assert normalise_person_id(" 00000000-T ") == "00000000T"
    assert normalise_person_id("X1234567L") == "X1234567L"
    assert normalise_person_id("Y1234567X") == "Y1234567X"
    assert normalise_organisation_id("B12345674") == "B12345674"  # digit control
    assert normalise_organisation_id("Q2826000H") == "Q2826000H"  # letter control (public body)
    for bad in ("12345678A", "X1234567A", "1234567Z", "ABCDEFGHZ", "B12345675", "Q2826000A"):
        with pytest.raises(NationalIdInvalid):
            (normalise_organisation_id if bad[0] in "BQ" else normalise_person_id)(bad)


@given(numbers, st.sampled_from(DNI_LETTERS))
def test_exactly_one_letter_fits_each_dni(number: int, letter: str) -> None:
    raw = f"{number:08d}{letter}"
    right = DNI_LETTERS[number % 23]
    if letter == right:
        assert normalise_person_id(raw) == raw
    else:
        with pytest.raises(NationalIdInvalid):
            normalise_person_id(raw)


@given(
    st.sampled_from("XYZ"),
    st.integers(min_value=0, max_value=9_999_999),
    st.sampled_from(DNI_LETTERS),
)
def test_nie_is_a_dni_with_a_prefix_digit(prefix: str, number: int, letter: str) -> None:
    raw = f"{prefix}{number:07d}{letter}"
    as_dni = int(f"{'XYZ'.index(prefix)}{number:07d}")
    if letter == DNI_LETTERS[as_dni % 23]:
        assert normalise_person_id(raw.lower()) == raw
    else:
        with pytest.raises(NationalIdInvalid):
            normalise_person_id(raw)


@given(
    st.sampled_from("ABEH"),
    st.integers(min_value=0, max_value=9_999_999),
    st.integers(min_value=0, max_value=9),
)
def test_company_nif_digit_control(kind: str, body: int, control: int) -> None:
    raw = f"{kind}{body:07d}{control}"
    digit, _ = cif_control(f"{body:07d}")
    if str(control) == digit:
        assert normalise_organisation_id(raw) == raw
    else:
        with pytest.raises(NationalIdInvalid):
            normalise_organisation_id(raw)
