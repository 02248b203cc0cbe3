"""Transfer ids of taps: the same uuid5 as ever, so a batch settled before a deploy and uploaded
again after it still writes each transfer once."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from card_service.terminals.postings import TAP_NAMESPACE, transfer_id


@given(
    st.integers(1, 2**32 - 1),
    st.integers(1, 2**32 - 1),
    st.sampled_from(["purse", "concession"]),
)
def test_a_tap_transfer_id_is_the_uuid5_of_terminal_seq_and_leg(
    terminal: int, seq: int, leg: str
) -> None:
    expected = uuid.uuid5(TAP_NAMESPACE, f"{terminal}:{seq}:{leg}")
    got = transfer_id(terminal, seq, leg)
    assert got == expected
    assert str(got) == str(expected) and got.version == 5
