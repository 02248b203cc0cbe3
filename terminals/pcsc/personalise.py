"""Personalisation at the clerk desk: write the issuing key and holder certificate, then lock.

A blank card is opened with its transport key (master version 0). A card left personalised but
unlocked by an interrupted issue is opened with the key it now holds and finished. A locked card
is refused here, and the card itself refuses PUT KEY / PUT CERTIFICATE once locked.
"""

from __future__ import annotations

from dataclasses import dataclass

from card_service.protocol.apdu import AID, SW, SYSTEM_ID, CardState
from card_service.protocol.certificate import HolderCertificate
from card_service.protocol.diversify import card_key
from card_service.protocol.keystore import Keystore
from terminals.pcsc.card_client import CardClient
from terminals.pcsc.channel import Channel
from terminals.pcsc.errors import CardIoError, CardRefused


class CardLocked(CardIoError):
    """The card is already locked (in service): it cannot be personalised again."""

    code = "card_locked"


@dataclass(frozen=True)
class CardIssue:
    """What the cards domain decided to put on the card."""

    card_id: bytes
    holder_pseudonym: bytes
    expires_at: int
    categories: tuple[str, ...]
    issuer_key_id: int


@dataclass(frozen=True)
class Personalised:
    uid: bytes
    key_version: int
    certificate: bytes


def personalise(channel: Channel, keys: Keystore, issue: CardIssue) -> Personalised:
    client = CardClient(channel)
    info = client.select()
    if info.state == CardState.LOCKED:
        raise CardLocked("card is locked and in service")
    client.authenticate(card_key(keys.master_key(info.key_version), info.uid, AID, SYSTEM_ID))
    version = keys.current_version
    new_key = card_key(keys.master_key(version), info.uid, AID, SYSTEM_ID)
    certificate = HolderCertificate(
        issue.issuer_key_id,
        issue.card_id,
        issue.holder_pseudonym,
        issue.expires_at,
        version,
        issue.categories,
    ).sign(keys.issuer_key(issue.issuer_key_id))
    try:
        client.put_key(version, new_key)
        client.put_certificate(certificate)
        client.lock()
    except CardRefused as exc:
        if exc.sw == SW.CONDITIONS_NOT_SATISFIED:
            raise CardLocked("card refused personalisation") from exc
        raise
    return Personalised(info.uid, version, certificate)
