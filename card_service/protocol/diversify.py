"""AES-128 key diversification as NXP application note AN10922 (section 2.2) specifies.

The diversification input is M = UID || AID || system identifier, 1 to 31 bytes. The CMAC input
is D = 0x01 || M. When D is shorter than 32 bytes it is padded to exactly 32 bytes with 0x80 then
zeros and the last block is XORed with subkey K2; a 32-byte D is not padded and takes K1. (Plain
AES-CMAC would pad only to the next 16-byte boundary, so for short inputs the two differ.) The
diversified key is the last block of the AES-CBC encryption of that 32-byte message.
"""

from __future__ import annotations

from card_service.protocol.aes import BLOCK, cbc_encrypt, cmac_subkeys, xor
from card_service.protocol.errors import MalformedInput

AES128_DIV_CONSTANT = 0x01
MAX_INPUT = 31


def diversification_input(uid: bytes, aid: bytes = b"", system_id: bytes = b"") -> bytes:
    """M = UID || AID || system identifier, checked to be 1 to 31 bytes."""
    m = uid + aid + system_id
    if not 1 <= len(m) <= MAX_INPUT:
        raise MalformedInput(f"diversification input must be 1 to 31 bytes, got {len(m)}")
    return m


def diversify_aes128(master: bytes, m: bytes) -> bytes:
    """The AN10922 AES-128 diversified key of ``master`` for input ``m`` (1 to 31 bytes)."""
    if len(master) != BLOCK:
        raise MalformedInput("master key must be 16 bytes (AES-128)")
    if not 1 <= len(m) <= MAX_INPUT:
        raise MalformedInput(f"diversification input must be 1 to 31 bytes, got {len(m)}")
    k1, k2 = cmac_subkeys(master)
    d = bytes([AES128_DIV_CONSTANT]) + m
    if len(d) == 2 * BLOCK:
        last_key = k1
    else:
        d = d + b"\x80" + bytes(2 * BLOCK - len(d) - 1)
        last_key = k2
    message = d[:BLOCK] + xor(d[BLOCK:], last_key)
    return cbc_encrypt(master, message)[BLOCK:]


def card_key(master: bytes, uid: bytes, aid: bytes = b"", system_id: bytes = b"") -> bytes:
    """The diversified key of one card: AN10922 over UID || AID || system identifier."""
    return diversify_aes128(master, diversification_input(uid, aid, system_id))
