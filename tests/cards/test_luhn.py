"""Card numbers carry a Luhn check digit: every single-digit typo is caught."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from card_service.cards import luhn


def test_known_numbers() -> None:
    assert luhn.is_valid("4111111111111111")  # the classic test Visa number
    assert not luhn.is_valid("4111111111111112")
    assert not luhn.is_valid("411111111111111")
    assert not luhn.is_valid("41111111111111a1")


@given(st.integers(min_value=0, max_value=20))
def test_new_numbers_are_valid_and_ours(_: int) -> None:
    number = luhn.new_number()
    assert luhn.is_valid(number) and number.startswith(luhn.ISSUER_PREFIX)


@given(
    st.text(alphabet="0123456789", min_size=15, max_size=15), st.integers(0, 15), st.integers(1, 9)
)
def test_any_single_digit_change_is_caught(payload: str, position: int, delta: int) -> None:
    number = payload + luhn.check_digit(payload)
    assert luhn.is_valid(number)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert not luhn.is_valid(changed)
