"""A card channel: send a C-APDU, get an R-APDU. PC/SC (pyscard) and in-process versions."""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from smartcard.Exceptions import SmartcardException
from smartcard.pcsc.PCSCExceptions import BaseSCardException
from smartcard.scard import (
    SCARD_E_NO_READERS_AVAILABLE,
    SCARD_E_NO_SERVICE,
    SCARD_E_SERVICE_STOPPED,
    SCARD_E_UNKNOWN_READER,
    SCARD_F_COMM_ERROR,
    SCARD_PROTOCOL_T1,
)

from terminals.pcsc.errors import CardRemoved, ReaderUnavailable

_SERVICE_GONE = {
    SCARD_E_NO_SERVICE,
    SCARD_E_SERVICE_STOPPED,
    SCARD_F_COMM_ERROR,
    SCARD_E_UNKNOWN_READER,
    SCARD_E_NO_READERS_AVAILABLE,
}


class Channel(Protocol):
    def transmit(self, apdu: bytes) -> bytes: ...


def map_pcsc_error(exc: Exception) -> CardRemoved | ReaderUnavailable:
    if isinstance(exc, BaseSCardException):  # no context / no reader list: pcscd is gone
        return ReaderUnavailable(f"PC/SC service unavailable: {exc}")
    hresult = getattr(exc, "hresult", None)
    if hresult is not None and (hresult & 0xFFFFFFFF) in {h & 0xFFFFFFFF for h in _SERVICE_GONE}:
        return ReaderUnavailable(f"PC/SC service or reader gone: {exc}")
    return CardRemoved(f"card gone: {exc}")


class PcscChannel:
    """A pyscard connection to the card in one reader (T=1)."""

    def __init__(self, connection: Any) -> None:
        self._conn = connection

    @classmethod
    def open(cls, card: Any) -> PcscChannel:
        """Connect to a card handed over by the monitor (``smartcard.Card.Card``)."""
        try:
            channel = cls(card.createConnection())
        except (SmartcardException, BaseSCardException) as exc:
            raise map_pcsc_error(exc) from exc
        try:
            channel._conn.connect(SCARD_PROTOCOL_T1)
        except (SmartcardException, BaseSCardException) as exc:
            channel.close()
            raise map_pcsc_error(exc) from exc
        return channel

    def transmit(self, apdu: bytes) -> bytes:
        try:
            data, sw1, sw2 = self._conn.transmit(list(apdu))
        except (SmartcardException, BaseSCardException) as exc:
            raise map_pcsc_error(exc) from exc
        return bytes(data) + bytes([sw1, sw2])

    def close(self) -> None:
        with contextlib.suppress(SmartcardException):
            self._conn.disconnect()
        with contextlib.suppress(SmartcardException, AttributeError):
            self._conn.release()
        # If pcscd is gone, release() failed and pyscard would retry (and raise) in __del__.
        inner = getattr(self._conn, "component", self._conn)
        with contextlib.suppress(AttributeError):
            inner.hcontext = None
            inner.hcard = None
