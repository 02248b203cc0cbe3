"""Mutual authentication in the manner of DESFire EV2 (AuthenticateEV2First) and its session.

Card -> terminal:  E(K, RndB)                                   16 bytes
Terminal -> card:  E(K, RndA || rotl(RndB))                     32 bytes
Card -> terminal:  E(K, TI || rotl(RndA) || PDcap2 || PCDcap2)  32 bytes (caps are zero)

E is AES-128-CBC with a zero IV, K the card's diversified key. Session keys are AES-CMAC of K over
the EV2 session vectors SV1 (encryption) and SV2 (MAC). Commands after authentication carry an
8-byte MAC over INS, the command counter, TI and the data; the counter goes up by one per command.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

from card_service.protocol.aes import BLOCK, cbc_decrypt, cbc_encrypt, cmac
from card_service.protocol.errors import AuthenticationFailed, MacMismatch, MalformedInput

MAC_LEN = 8


def rotl(data: bytes) -> bytes:
    """Rotate left by one byte, as EV2 does to RndA and RndB."""
    return data[1:] + data[:1]


def truncate_mac(full: bytes) -> bytes:
    """EV2 MAC truncation: the odd-indexed bytes of the 16-byte CMAC (8 bytes)."""
    return full[1::2]


def _session_vector(label: bytes, rnd_a: bytes, rnd_b: bytes) -> bytes:
    mixed = bytes(a ^ b for a, b in zip(rnd_a[2:8], rnd_b[0:6], strict=True))
    return label + b"\x00\x01\x00\x80" + rnd_a[0:2] + mixed + rnd_b[6:16] + rnd_a[8:16]


@dataclass
class Session:
    """Keys and counters of one authenticated session (same on card and terminal)."""

    enc_key: bytes
    mac_key: bytes
    ti: bytes
    counter: int = 0

    @classmethod
    def derive(cls, key: bytes, rnd_a: bytes, rnd_b: bytes, ti: bytes) -> Session:
        enc = cmac(key, _session_vector(b"\xa5\x5a", rnd_a, rnd_b))
        mac = cmac(key, _session_vector(b"\x5a\xa5", rnd_a, rnd_b))
        return cls(enc_key=enc, mac_key=mac, ti=ti)

    def _mac(self, ins: int, data: bytes) -> bytes:
        header = bytes([ins]) + self.counter.to_bytes(2, "little") + self.ti
        return truncate_mac(cmac(self.mac_key, header + data))

    def wrap(self, ins: int, data: bytes) -> bytes:
        """Terminal side: ``data`` followed by its command MAC; advances the counter."""
        mac = self._mac(ins, data)
        self.counter += 1
        return data + mac

    def unwrap(self, ins: int, payload: bytes) -> bytes:
        """Card side: check and strip the command MAC; advances the counter."""
        if len(payload) < MAC_LEN:
            raise MalformedInput("command shorter than its MAC")
        data, mac = payload[:-MAC_LEN], payload[-MAC_LEN:]
        if not hmac.compare_digest(self._mac(ins, data), mac):
            raise MacMismatch("command MAC does not match")
        self.counter += 1
        return data

    def _iv(self, counter: int) -> bytes:
        seed = b"\xa5\x5a" + self.ti + counter.to_bytes(2, "little") + bytes(8)
        return cbc_encrypt(self.enc_key, seed)

    def encrypt(self, block: bytes) -> bytes:
        """Encrypt whole blocks (a new key) for the next command, before ``wrap``."""
        return cbc_encrypt(self.enc_key, block, self._iv(self.counter))

    def decrypt_previous(self, block: bytes) -> bytes:
        """Decrypt what ``encrypt`` produced, after ``unwrap`` advanced the counter."""
        return cbc_decrypt(self.enc_key, block, self._iv(self.counter - 1))


# -- card side ------------------------------------------------------------------------------


@dataclass
class CardChallenge:
    """State the card keeps between the two authentication steps."""

    key: bytes
    rnd_b: bytes

    @classmethod
    def start(cls, key: bytes) -> tuple[CardChallenge, bytes]:
        rnd_b = os.urandom(BLOCK)
        return cls(key=key, rnd_b=rnd_b), cbc_encrypt(key, rnd_b)

    def finish(self, answer: bytes) -> tuple[Session, bytes]:
        """Check the terminal's answer; return the session and the card's 32-byte reply."""
        if len(answer) != 2 * BLOCK:
            raise MalformedInput("authentication answer must be 32 bytes")
        plain = cbc_decrypt(self.key, answer)
        rnd_a, rnd_b_rot = plain[:BLOCK], plain[BLOCK:]
        if not hmac.compare_digest(rnd_b_rot, rotl(self.rnd_b)):
            raise AuthenticationFailed("terminal did not prove the key")
        ti = os.urandom(4)
        reply = cbc_encrypt(self.key, ti + rotl(rnd_a) + bytes(12))
        return Session.derive(self.key, rnd_a, self.rnd_b, ti), reply


# -- terminal side --------------------------------------------------------------------------


@dataclass
class TerminalChallenge:
    """State the terminal keeps between sending its answer and reading the card's reply."""

    key: bytes
    rnd_a: bytes
    rnd_b: bytes

    @classmethod
    def answer(cls, key: bytes, encrypted_rnd_b: bytes) -> tuple[TerminalChallenge, bytes]:
        if len(encrypted_rnd_b) != BLOCK:
            raise MalformedInput("card challenge must be 16 bytes")
        rnd_b = cbc_decrypt(key, encrypted_rnd_b)
        rnd_a = os.urandom(BLOCK)
        return cls(key, rnd_a, rnd_b), cbc_encrypt(key, rnd_a + rotl(rnd_b))

    def finish(self, reply: bytes) -> Session:
        """Check the card's reply (it must return rotl(RndA)); return the session."""
        if len(reply) != 2 * BLOCK:
            raise AuthenticationFailed("card reply has the wrong length")
        plain = cbc_decrypt(self.key, reply)
        if not hmac.compare_digest(plain[4:20], rotl(self.rnd_a)):
            raise AuthenticationFailed("card did not prove the key")
        return Session.derive(self.key, self.rnd_a, self.rnd_b, plain[:4])
