"""An in-process channel to the applet: the card without pcscd (unit tests, the software benchmark)."""

from __future__ import annotations

from terminals.virtual_card.applet import Applet


class LocalChannel:
    def __init__(self, applet: Applet) -> None:
        self.applet = applet

    def transmit(self, apdu: bytes) -> bytes:
        return self.applet.process(apdu)
