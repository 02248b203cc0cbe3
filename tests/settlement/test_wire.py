"""The settlement's tap parser answers exactly as the protocol's: the same taps accepted, the
same named reason for each malformed one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from card_service.protocol.errors import MalformedInput
from card_service.protocol.tap_record import TapRecord
from card_service.protocol.terminal_wire import WireTap, parse_item
from card_service.terminals.wire import Tap, parse


def _good() -> dict[str, Any]:
    record = TapRecord(7, 42, 1_700_000_000, 150, 9)
    return WireTap(
        42, bytes.fromhex("04A1B2C3D4E5F6"), 1, record, bytes(8), 0, None, "bus", "single", "base"
    ).to_json()


def _outcome(fn: Any, raw: Any) -> Any:
    try:
        out = fn(raw)
    except MalformedInput as exc:
        return ("malformed", str(exc))
    if isinstance(out, WireTap):
        out = Tap.of(out)
    if isinstance(out, Tap):
        return tuple(getattr(out, name) for name in sorted(Tap.__slots__))
    return out


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2**32 + 1),
    st.sampled_from(["", "bus", "x" * 33, "a\tb", "zz", "00" * 20, "00" * 8, "04a1b2c3", "tap"]),
)


@given(st.sampled_from(sorted(_good())), VALUES)
def test_one_bad_field_is_answered_as_the_protocol_answers_it(field: str, value: Any) -> None:
    raw = _good() | {field: value}
    assert _outcome(parse, raw) == _outcome(parse_item, raw)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"concession_cents": 50, "concession_category": "senior"},
        {"concession_cents": 50},
        {"concession_category": "senior"},
        {"kind": "void", "reason": "lost"},
        {"seq": 43},
        {"holder_cents": 151},
        {"uid": " 04 a1"},
    ],
)
def test_known_cases_match_the_protocol(change: dict[str, Any]) -> None:
    raw = _good() | change
    assert _outcome(parse, raw) == _outcome(parse_item, raw)


def test_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedInput):
        parse([1, 2])
