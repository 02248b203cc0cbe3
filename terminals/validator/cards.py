"""What the validator needs from a card, from the real reader (PC/SC) or a card-less input.

``ReaderCard`` runs our card's commands through ``terminals.pcsc.card_client`` (select, mutual
authentication, certificate, last tap, TAP with MAC). ``SoftCard`` is the same card in memory
(keys diversified as issued, counter, MAC as the card computes it) with no APDUs: the card-less
input for load tests and the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from card_service.protocol.apdu import AID, SYSTEM_ID, CardState
from card_service.protocol.diversify import card_key
from card_service.protocol.keystore import Keystore
from card_service.protocol.tap_record import TapRecord, TapRequest, tap_mac
from terminals.pcsc.card_client import CardClient
from terminals.pcsc.channel import Channel
from terminals.pcsc.errors import CardRefused, UnknownCard


class CardAtReader(Protocol):
    uid: bytes
    key_version: int
    counter: int  # before this presentation's TAP
    key: bytes  # the card key, for checking its MAC

    def certificate(self) -> bytes: ...

    def last_tap(self) -> tuple[TapRecord, bytes] | None: ...

    def tap(self, request: TapRequest) -> tuple[int, bytes]: ...


class ReaderCard:
    """A card in the reader's field, selected and authenticated."""

    def __init__(self, channel: Channel, keys: Keystore) -> None:
        self.client = CardClient(channel)
        info = self.client.select()
        if info.state != CardState.LOCKED:
            raise CardRefused("card is not in service (not locked)", 0x6985)
        self.uid, self.key_version, self.counter = info.uid, info.key_version, info.counter
        self.key = card_key(keys.master_key(info.key_version), info.uid, AID, SYSTEM_ID)
        self.client.authenticate(self.key)

    def certificate(self) -> bytes:
        return self.client.read_certificate()

    def last_tap(self) -> tuple[TapRecord, bytes] | None:
        return self.client.last_tap()

    def tap(self, request: TapRequest) -> tuple[int, bytes]:
        return self.client.tap(request)


@dataclass
class SoftCard:
    """A card without a reader: keys as issued, a counter, the last tap, MACs as the card makes."""

    uid: bytes
    key_version: int
    key: bytes
    cert: bytes
    counter: int = 0
    last: tuple[TapRecord, bytes] | None = None

    @classmethod
    def issued(cls, keys: Keystore, uid: bytes, certificate: bytes) -> SoftCard:
        version = keys.current_version
        return cls(
            uid, version, card_key(keys.master_key(version), uid, AID, SYSTEM_ID), certificate
        )

    def certificate(self) -> bytes:
        if not self.cert:
            raise UnknownCard("no certificate")
        return self.cert

    def last_tap(self) -> tuple[TapRecord, bytes] | None:
        return self.last

    def tap(self, request: TapRequest) -> tuple[int, bytes]:
        record = TapRecord.of(request, self.counter + 1)
        mac = tap_mac(self.key, record)
        self.counter, self.last = record.card_counter, (record, mac)
        return self.counter, mac
