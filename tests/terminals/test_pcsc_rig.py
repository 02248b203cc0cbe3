"""Through the real pcscd, vpcd and virtual card processes."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from card_service.protocol.keystore import MemoryKeystore
from card_service.protocol.settlement import MemoryCounterLedger, SubmittedTap, TapCheck, check_tap
from terminals.pcsc.channel import PcscChannel
from terminals.pcsc.errors import ReaderUnavailable
from terminals.pcsc.monitor import ReaderWatcher
from terminals.pcsc.personalise import CardLocked, personalise
from terminals.pcsc.tap import TapOutcome, TapTerminal
from terminals.virtual_card.__main__ import TORN_EXIT
from tests.terminals.conftest import issue
from tests.terminals.rig import READER, Pcscd, VirtualCard, wait_card

pytestmark = pytest.mark.xdist_group("pcsc")


class Events:
    """What the watcher reported, to wait on (never sleep on)."""

    def __init__(self) -> None:
        self.watcher: ReaderWatcher | None = None
        self.results: queue.Queue[Any] = queue.Queue()
        self.status: queue.Queue[str] = queue.Queue()

    def next_result(self, timeout: float = 5) -> Any:
        return self.results.get(timeout=timeout)

    def wait_status(self, wanted: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while (got := self.status.get(timeout=max(0.0, deadline - time.monotonic()))) != wanted:
            pass
        assert got == wanted


@pytest.fixture
def watch(pcscd: Pcscd) -> Iterator[Callable[[Callable[[PcscChannel, str], Any]], Events]]:
    watchers: list[ReaderWatcher] = []

    def start(handler: Callable[[PcscChannel, str], Any]) -> Events:
        wait_card(READER, present=False)  # start from an empty reader
        events = Events()
        watcher = ReaderWatcher(
            handler,
            on_status=lambda status, err: events.status.put(status),
            on_result=lambda result, reader: events.results.put(result),
        ).start()
        events.watcher = watcher
        watchers.append(watcher)
        events.wait_status("available")
        return events

    yield start
    for w in watchers:
        w.stop()


@pytest.fixture
def cards() -> Iterator[list[VirtualCard]]:
    made: list[VirtualCard] = []
    yield made
    for card in made:
        card.remove()


class _StaleCard:
    """A card handed over before pcscd went away."""

    reader = READER

    def createConnection(self) -> Any:
        from smartcard.System import readers

        return readers()[0].createConnection()


def _terminal(keys: MemoryKeystore) -> TapTerminal:
    return TapTerminal(keys, keys.issuer_public_keys(), 7, time.time, lambda cert: 150)


def test_desk_personalises_then_validator_taps(pcscd, watch, cards, blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    store = blank_card()
    desk = watch(lambda ch, reader: personalise(ch, keys, issue()))
    card = VirtualCard(store.path, pcscd).insert()
    cards.append(card)
    done = desk.next_result()
    assert done.key_version == 1 and done.certificate
    card.remove()
    card.insert()
    assert isinstance(desk.next_result(), CardLocked)  # a locked card refuses personalisation
    card.remove()
    desk.watcher.stop()

    terminal = _terminal(keys)
    validator = watch(lambda ch, reader: terminal.present(ch))
    card.insert()
    tap = validator.next_result()
    assert tap.code == "charged" and tap.record.card_counter == 1
    assert (
        check_tap(SubmittedTap(tap.uid, 1, tap.record, tap.mac), keys, MemoryCounterLedger())
        is TapCheck.ACCEPTED
    )


def test_foreign_and_broken_cards_are_named_and_the_reader_keeps_working(
    pcscd, watch, cards, blank_card, keys
) -> None:  # type: ignore[no-untyped-def]
    store = blank_card()
    terminal = _terminal(keys)
    from terminals.virtual_card.applet import Applet
    from terminals.virtual_card.local import LocalChannel

    personalise(LocalChannel(Applet(store)), keys, issue())
    events = watch(lambda ch, reader: terminal.present(ch))
    for behaviour in ("foreign", "garbage"):
        bad = VirtualCard(
            store.path.with_name(f"{behaviour}.json"), pcscd, behaviour=behaviour
        ).insert()
        cards.append(bad)
        assert events.next_result().code == "unknown_card"
        bad.remove()
    good = VirtualCard(store.path, pcscd).insert()
    cards.append(good)
    assert events.next_result().code == "charged"


@pytest.mark.parametrize(
    ("point", "settled", "code"),
    [("before_commit", "not_counted", "charged"), ("after_commit", "charged", "already_charged")],
)
def test_card_pulled_mid_tap_settles_at_next_presentation(
    pcscd, watch, cards, blank_card, keys, point, settled, code
) -> None:  # type: ignore[no-untyped-def]
    store = blank_card()
    from terminals.virtual_card.applet import Applet
    from terminals.virtual_card.local import LocalChannel

    personalise(LocalChannel(Applet(store)), keys, issue())
    terminal = _terminal(keys)
    events = watch(lambda ch, reader: terminal.present(ch))
    card = VirtualCard(store.path, pcscd)
    cards.append(card)
    card.arm_tear(point)
    card.insert()
    torn = events.next_result()
    assert torn.code == "transaction_torn" and not torn.charged
    assert card.wait_gone() == TORN_EXIT
    assert store.load().counter == (1 if point == "after_commit" else 0)
    card.insert()
    again = events.next_result()
    assert [s.result.code for s in again.settled] == [settled]
    assert again.code == code and again.record.card_counter == 1


def test_pcscd_stopped_mid_run_then_back(pcscd, watch, cards, blank_card, keys) -> None:  # type: ignore[no-untyped-def]
    store = blank_card()
    from terminals.virtual_card.applet import Applet
    from terminals.virtual_card.local import LocalChannel

    personalise(LocalChannel(Applet(store)), keys, issue())
    terminal = _terminal(keys)
    gate, opened = threading.Event(), threading.Event()

    def slow_tap(ch: PcscChannel, reader: str) -> TapOutcome:
        if not gate.is_set():
            opened.set()
            gate.wait(10)  # hold the transaction open while pcscd goes away
        return terminal.present(ch)

    events = watch(slow_tap)
    card = VirtualCard(store.path, pcscd).insert()
    cards.append(card)
    assert opened.wait(5)
    pcscd.stop()
    events.wait_status("unavailable")
    gate.set()
    assert events.next_result().code in ("reader_unavailable", "card_removed")
    with pytest.raises(ReaderUnavailable):
        PcscChannel.open(_StaleCard())
    pcscd.start()
    events.wait_status("available")
    outcome = events.next_result(timeout=10)  # the card process reconnects to the new vpcd
    assert outcome.code == "charged"
