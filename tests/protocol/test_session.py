from __future__ import annotations

import os

import pytest

from card_service.protocol.errors import AuthenticationFailed, MacMismatch
from card_service.protocol.session import CardChallenge, TerminalChallenge


def _authenticate(card_key: bytes, terminal_key: bytes):  # type: ignore[no-untyped-def]
    card, challenge = CardChallenge.start(card_key)
    terminal, answer = TerminalChallenge.answer(terminal_key, challenge)
    card_session, reply = card.finish(answer)
    return card_session, terminal.finish(reply)


def test_both_sides_derive_the_same_session_keys() -> None:
    key = os.urandom(16)
    card, terminal = _authenticate(key, key)
    assert (card.enc_key, card.mac_key, card.ti) == (
        terminal.enc_key,
        terminal.mac_key,
        terminal.ti,
    )
    assert card.enc_key != card.mac_key
    again, _ = _authenticate(key, key)
    assert again.mac_key != card.mac_key  # fresh randoms, fresh keys


def test_terminal_with_wrong_key_is_refused_by_the_card() -> None:
    with pytest.raises(AuthenticationFailed):
        _authenticate(os.urandom(16), os.urandom(16))


def test_terminal_detects_a_card_without_the_key() -> None:
    key = os.urandom(16)
    _card, challenge = CardChallenge.start(key)
    terminal, _answer = TerminalChallenge.answer(key, challenge)
    with pytest.raises(AuthenticationFailed):
        terminal.finish(os.urandom(32))


def test_command_mac_detects_tampering_and_replay() -> None:
    key = os.urandom(16)
    card, terminal = _authenticate(key, key)
    wrapped = terminal.wrap(0x70, b"tap record bytes")
    tampered = bytes([wrapped[0] ^ 1]) + wrapped[1:]
    with pytest.raises(MacMismatch):
        card.unwrap(0x70, tampered)
    card2, terminal2 = _authenticate(key, key)
    first = terminal2.wrap(0x70, b"one")
    assert card2.unwrap(0x70, first) == b"one"
    with pytest.raises(MacMismatch):  # the counter moved on: the same bytes do not pass twice
        card2.unwrap(0x70, first)


def test_key_transport_round_trip() -> None:
    key, new_key = os.urandom(16), os.urandom(16)
    card, terminal = _authenticate(key, key)
    payload = terminal.wrap(0xD8, terminal.encrypt(new_key))
    assert payload[:16] != new_key
    assert card.decrypt_previous(card.unwrap(0xD8, payload)) == new_key
