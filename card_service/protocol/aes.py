"""Thin wrappers over the ``cryptography`` package's AES, CMAC and CBC.

Nothing here is a hand-written cipher: AES, AES-CMAC and CBC come from ``cryptography``. The only
arithmetic is the CMAC subkey doubling of NIST SP 800-38B, needed by AN10922's 32-byte padding.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

BLOCK = 16
_ZERO_IV = bytes(BLOCK)
_RB = 0x87


def cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B) of ``data`` under ``key``: 16 bytes."""
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def cbc_encrypt(key: bytes, data: bytes, iv: bytes = _ZERO_IV) -> bytes:
    """AES-CBC encryption without padding (``data`` is a whole number of blocks)."""
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def cbc_decrypt(key: bytes, data: bytes, iv: bytes = _ZERO_IV) -> bytes:
    """AES-CBC decryption without padding."""
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def _double(block: bytes) -> bytes:
    value = int.from_bytes(block, "big") << 1
    if block[0] & 0x80:
        value ^= _RB
    return (value & ((1 << 128) - 1)).to_bytes(BLOCK, "big")


def cmac_subkeys(key: bytes) -> tuple[bytes, bytes]:
    """The CMAC subkeys K1 and K2 of ``key`` (L = AES_K(0^128), K1 = 2L, K2 = 4L)."""
    big_l = cbc_encrypt(key, bytes(BLOCK))
    k1 = _double(big_l)
    return k1, _double(k1)


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))
