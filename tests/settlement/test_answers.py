"""The tap route's answers, written as text for the usual case, read as the reference JSON."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from card_service.terminals.settlement import Answer, answers_json

ANSWERS = st.builds(
    Answer,
    index=st.integers(0, 5000),
    seq=st.one_of(st.none(), st.integers(1, 2**32 - 1)),
    result=st.sampled_from(["settled", "exception", "rejected", "void", "other"]),
    reason=st.one_of(st.none(), st.just(""), st.text(max_size=40)),
    replayed=st.booleans(),
    warning=st.one_of(st.none(), st.just("sequence_gap")),
    detail=st.one_of(st.none(), st.text(max_size=40)),
)


@given(st.integers(0, 2**32 - 1), st.lists(ANSWERS, max_size=20))
def test_answers_are_written_as_orjson_writes_their_json(terminal_id: int, answers) -> None:  # type: ignore[no-untyped-def]
    expected = {"terminal_id": terminal_id, "answers": [a.to_json() for a in answers]}
    written = answers_json(terminal_id, answers)
    assert written == orjson.dumps(expected)
