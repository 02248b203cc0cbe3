"""The kiosk's card reader: a PC/SC reader through the reader driver, or the demo's virtual card
in process. Both report the same three things: a card was presented (at once, before it is read),
it was identified (or refused), and it left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from card_service.protocol.errors import ProtocolError
from card_service.protocol.keystore import Keystore
from terminals.kiosk.card import PresentedCard, identify
from terminals.pcsc.channel import Channel
from terminals.pcsc.monitor import ReaderWatcher

log = logging.getLogger(__name__)


class ReaderEvents(Protocol):
    def presented(self, reported_at: float) -> None: ...
    def identified(self, card: PresentedCard) -> None: ...
    def refused(self, code: str, detail: str) -> None: ...
    def removed(self) -> None: ...
    def status(self, available: bool) -> None: ...


def read_card(channel: Channel, keys: Keystore, events: ReaderEvents) -> None:
    events.presented(time.time())
    try:
        card = identify(channel, keys)
    except ProtocolError as exc:
        events.refused(exc.code, str(exc))
        return
    except Exception as exc:  # a card that answers nonsense must not stop the kiosk
        events.refused("card_unreadable", f"{type(exc).__name__}: {exc}")
        return
    events.identified(card)


class _Watcher(ReaderWatcher):
    """The reader driver's watcher, also telling when the card leaves."""

    def __init__(self, on_removed: Callable[[], None], **kw: Any) -> None:
        super().__init__(**kw)
        self._removed_cb = on_removed

    def _on_removed(self, card: Any) -> None:
        was_present = str(card.reader) in self._present
        super()._on_removed(card)
        if was_present:
            self._removed_cb()


class PcscReader:
    """The kiosk's PC/SC reader (the first reader whose name starts with ``reader_prefix``)."""

    def __init__(self, keys: Keystore, events: ReaderEvents, reader_prefix: str = "") -> None:
        self.keys = keys
        self.events = events
        self.watcher = _Watcher(
            on_removed=lambda: threading.Thread(target=events.removed, daemon=True).start(),
            on_card=lambda channel, reader: read_card(channel, keys, events),
            on_status=lambda status, error: events.status(status == "available"),
            reader_filter=lambda name: name.startswith(reader_prefix),
        )

    def start(self) -> None:
        self.watcher.start()

    def stop(self) -> None:
        self.watcher.stop()


class DemoReader:
    """The demo's virtual card, in process: the demo panel puts it on the reader and takes it off.

    It runs the same applet as ``python -m terminals.virtual_card`` (which the PC/SC rig uses),
    through an in-process channel instead of pcscd and vpcd, so ``make run`` needs no root."""

    def __init__(self, keys: Keystore, events: ReaderEvents) -> None:
        self.keys = keys
        self.events = events
        self.present_path: Path | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self.events.status(True)

    def stop(self) -> None:
        return None

    def put(self, state: Path) -> None:
        from terminals.virtual_card.applet import Applet
        from terminals.virtual_card.local import LocalChannel
        from terminals.virtual_card.state import CardStore

        with self._lock:
            if self.present_path is not None:
                return
            self.present_path = state
        read_card(LocalChannel(Applet(CardStore(state))), self.keys, self.events)

    def take(self) -> None:
        with self._lock:
            was, self.present_path = self.present_path, None
        if was is not None:
            self.events.removed()
