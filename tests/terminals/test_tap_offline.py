"""Tap and personalisation logic against the applet in process (no pcscd)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from card_service.protocol.apdu import SW, Ins, proprietary, split_response
from card_service.protocol.keystore import MemoryKeystore
from card_service.protocol.settlement import MemoryCounterLedger, SubmittedTap, TapCheck, check_tap
from terminals.pcsc.card_client import CardClient
from terminals.pcsc.errors import CardRemoved
from terminals.pcsc.personalise import CardLocked, personalise
from terminals.pcsc.tap import TapTerminal
from terminals.virtual_card.applet import Applet
from terminals.virtual_card.local import LocalChannel
from terminals.virtual_card.state import CardStore
from tests.terminals.conftest import issue


def _terminal(keys: MemoryKeystore, **kw: object) -> TapTerminal:
    return TapTerminal(keys, keys.issuer_public_keys(), 7, time.time, lambda cert: 150, **kw)  # type: ignore[arg-type]


def _issued(
    blank_card: Callable[..., CardStore], keys: MemoryKeystore, **kw: object
) -> LocalChannel:
    channel = LocalChannel(Applet(blank_card()))
    personalise(channel, keys, issue(**kw))  # type: ignore[arg-type]
    return channel


def test_tap_is_charged_and_settles_once(blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    channel = _issued(blank_card, keys)
    outcome = _terminal(keys).present(channel)
    assert outcome.code == "charged"
    assert outcome.record is not None and outcome.mac is not None and outcome.uid is not None
    assert outcome.record.card_counter == 1 and outcome.record.amount_cents == 150
    tap = SubmittedTap(outcome.uid, 1, outcome.record, outcome.mac)
    ledger = MemoryCounterLedger()
    assert check_tap(tap, keys, ledger) is TapCheck.ACCEPTED
    assert check_tap(tap, keys, ledger) is TapCheck.COUNTER_REPLAYED
    assert _terminal(keys).present(channel).record.card_counter == 2  # type: ignore[union-attr]


def test_blank_card_is_not_in_service(blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    assert _terminal(keys).present(LocalChannel(Applet(blank_card()))).code == "card_not_in_service"


def test_locked_card_refuses_personalisation(blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    channel = _issued(blank_card, keys)
    with pytest.raises(CardLocked):
        personalise(channel, keys, issue())
    # and the card itself refuses, even to a terminal holding its key
    client = CardClient(channel)
    info = client.select()
    from card_service.protocol.apdu import AID, SYSTEM_ID
    from card_service.protocol.diversify import card_key

    session = client.authenticate(card_key(keys.master_key(1), info.uid, AID, SYSTEM_ID))
    payload = session.wrap(Ins.PUT_KEY, b"\x01" + session.encrypt(os.urandom(16)))
    _, sw = split_response(channel.transmit(proprietary(Ins.PUT_KEY, payload)))
    assert sw == SW.CONDITIONS_NOT_SATISFIED


def test_terminal_without_the_cards_key_version(blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    channel = _issued(blank_card, keys)
    other = MemoryKeystore(masters={2: os.urandom(16)}, issuers=keys.issuers, current=2)
    assert _terminal(other).present(channel).code == "unknown_key_version"


def test_terminal_with_another_master_fails_authentication(blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    channel = _issued(blank_card, keys)
    impostor = MemoryKeystore(masters={1: os.urandom(16)}, issuers=keys.issuers, current=1)
    outcome = _terminal(impostor).present(channel)
    assert outcome.code == "authentication_failed" and not outcome.charged


def test_expired_certificate(blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    channel = _issued(blank_card, keys, expires_in=-1)
    assert _terminal(keys).present(channel).code == "certificate_expired"


def test_certificate_by_unknown_issuer(blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    channel = _issued(blank_card, keys)
    terminal = TapTerminal(
        keys, {2: Ed25519PrivateKey.generate().public_key()}, 7, time.time, lambda c: 1
    )
    assert terminal.present(channel).code == "unknown_issuer_key"


class TearingChannel:
    """Loses the card on TAP, before or after the card committed it."""

    def __init__(self, inner: LocalChannel, after_commit: bool) -> None:
        self.inner, self.after_commit = inner, after_commit

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[1] == Ins.TAP:
            if self.after_commit:
                self.inner.transmit(apdu)
            raise CardRemoved("pulled")
        return self.inner.transmit(apdu)


@pytest.mark.parametrize(
    ("after_commit", "settled", "code"),
    [(False, "not_counted", "charged"), (True, "charged", "already_charged")],
)
def test_torn_tap_settles_at_next_presentation(
    blank_card, keys, after_commit, settled, code
) -> None:  # type: ignore[no-untyped-def]
    channel = _issued(blank_card, keys)
    terminal = _terminal(keys)
    torn = terminal.present(TearingChannel(channel, after_commit))
    assert torn.code == "transaction_torn" and not torn.charged
    again = terminal.present(channel)
    assert [s.result.code for s in again.settled] == [settled]
    assert again.code == code
    assert again.record is not None and again.record.card_counter == 1
    assert len(terminal.pending) == 0


def test_torn_tap_whose_counter_moved_on_is_lost_not_charged(blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    channel = _issued(blank_card, keys)
    terminal = _terminal(keys)
    terminal.present(TearingChannel(channel, after_commit=True))
    _terminal(keys).present(channel)  # tapped at another validator in between
    again = terminal.present(channel)
    assert [s.result.code for s in again.settled] == ["lost"]
    assert again.code == "charged" and again.record is not None and again.record.card_counter == 3


@settings(max_examples=200, deadline=None)
@given(answers=st.lists(st.binary(max_size=40), min_size=1, max_size=8))
def test_misbehaving_card_never_crashes_or_charges(answers: list[bytes]) -> None:
    keys = MemoryKeystore(masters={1: bytes(16)}, current=1)

    class Junk:
        def __init__(self) -> None:
            self.left = list(answers)

        def transmit(self, apdu: bytes) -> bytes:
            return self.left.pop(0) if self.left else b"\x90\x00"

    outcome = _terminal(keys).present(Junk())
    assert not outcome.charged
    assert outcome.code


class ForgingChannel:
    """A card (or man in the middle) whose TAP answer carries a MAC that does not match."""

    def __init__(self, inner: LocalChannel) -> None:
        self.inner = inner

    def transmit(self, apdu: bytes) -> bytes:
        answer = self.inner.transmit(apdu)
        if apdu[1] == Ins.TAP and answer[-2:] == b"\x90\x00":
            return answer[:-3] + bytes([answer[-3] ^ 1]) + answer[-2:]
        return answer


def test_tap_answer_with_a_bad_mac_is_not_charged(blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    outcome = _terminal(keys).present(ForgingChannel(_issued(blank_card, keys)))
    assert outcome.code == "mac_mismatch" and not outcome.charged and outcome.record is None


def test_exhausted_counter_is_refused_not_wrapped(blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    channel = _issued(blank_card, keys)
    channel.applet.card.counter = 0xFFFFFFFF
    outcome = _terminal(keys).present(channel)
    assert outcome.code == "card_refused" and not outcome.charged
    assert channel.applet.card.counter == 0xFFFFFFFF
