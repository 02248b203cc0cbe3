"""Typed card I/O errors. Each has a stable snake_case ``code``, like the protocol errors."""

from __future__ import annotations

from card_service.protocol.errors import AuthenticationFailed, ProtocolError


class CardIoError(ProtocolError):
    code = "card_io_error"


class CardRemoved(CardIoError):
    """The card left the field (or stopped answering) between commands."""

    code = "card_removed"


class TransactionTorn(CardIoError):
    """The card vanished during a command whose effect on the card is unknown (a TAP)."""

    code = "transaction_torn"


class UnknownCard(CardIoError):
    """Not our card: no application with our AID, or it answers nonsense."""

    code = "unknown_card"


class ReaderUnavailable(CardIoError):
    """No PC/SC service (pcscd stopped) or the reader is gone."""

    code = "reader_unavailable"


class CardRefused(CardIoError):
    """Our card answered a command with an unexpected status word."""

    code = "card_refused"

    def __init__(self, message: str, sw: int) -> None:
        super().__init__(message)
        self.sw = sw


__all__ = [
    "AuthenticationFailed",
    "CardIoError",
    "CardRefused",
    "CardRemoved",
    "ReaderUnavailable",
    "TransactionTorn",
    "UnknownCard",
]
