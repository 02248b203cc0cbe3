"""Cards that are not ours, for robustness tests: a foreign application and a broken card."""

from __future__ import annotations

import os


def foreign_card(apdu: bytes) -> bytes:
    """Another issuer's card: it has no application with our AID."""
    if len(apdu) >= 2 and apdu[1] == 0xA4:
        return b"\x6a\x82"
    return b"\x6d\x00"


def garbage_card(apdu: bytes) -> bytes:
    """A misbehaving card: claims success to everything, with an ISO FCI that is not ours to
    SELECT and random bytes of random length to anything else. (Answers that break the transport
    itself, such as a 1-byte R-APDU, make pcscd fail the command: the terminal then sees
    ``card_removed``; the in-process tests cover those.)"""
    if len(apdu) >= 2 and apdu[1] == 0xA4:
        return bytes.fromhex("6F0A8408A000000003000000") + b"\x90\x00"
    return os.urandom(1 + os.urandom(1)[0] % 40) + b"\x90\x00"
