"""Who is on the reader: authenticate the card, read and verify its holder certificate.

The certificate's 16-byte card id is the card number in ASCII (16 digits), so the kiosk learns the
card number from what the city signed, never from what a card merely claims. A card that fails
authentication or whose certificate does not verify is refused before any PIN is asked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from card_service.protocol.apdu import AID, SYSTEM_ID, CardState
from card_service.protocol.certificate import HolderCertificate
from card_service.protocol.diversify import card_key
from card_service.protocol.errors import MalformedInput, ProtocolError
from card_service.protocol.keystore import Keystore
from terminals.pcsc.card_client import CardClient
from terminals.pcsc.channel import Channel


def card_id_for(number: str) -> bytes:
    """The certificate's card id for a card number: the 16 digits in ASCII."""
    if len(number) != 16 or not number.isdigit():
        raise MalformedInput("a card number is 16 digits")
    return number.encode("ascii")


def number_of(card_id: bytes) -> str:
    text = card_id.decode("ascii", errors="replace")
    if len(text) != 16 or not text.isdigit():
        raise MalformedInput("this card's certificate carries no card number")
    return text


@dataclass(frozen=True)
class PresentedCard:
    number: str
    uid: str  # hex
    expires_at: int  # Unix seconds, from the certificate
    categories: tuple[str, ...]

    @property
    def masked(self) -> str:
        return "•••• " + self.number[-4:]


class CardUnreadable(ProtocolError):
    """The card answered, but it is not one of ours in service (not personalised, bad key...)."""

    code = "card_unreadable"


def identify(channel: Channel, keys: Keystore, now: float | None = None) -> PresentedCard:
    """Select, authenticate with the card's diversified key, verify the holder certificate."""
    client = CardClient(channel)
    info = client.select()
    if info.state != CardState.LOCKED:
        raise CardUnreadable("this card has not been issued (not personalised)")
    client.authenticate(card_key(keys.master_key(info.key_version), info.uid, AID, SYSTEM_ID))
    blob = client.read_certificate()
    cert = HolderCertificate.verify(
        blob, keys.issuer_public_keys(), int(now if now is not None else time.time())
    )
    return PresentedCard(
        number_of(cert.card_id), info.uid.hex().upper(), cert.expires_at, cert.categories
    )
