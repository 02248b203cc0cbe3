"""The holder certificate: what the city vouches for about a card, signed with Ed25519.

Layout (big-endian), at most 240 bytes so it fits one short APDU response and a small card file:
format u8 (=1) | issuer key id u8 | card id 16 | holder pseudonym 16 | expiry u32 (Unix seconds)
| key version u8 | category count u8 | per category: length u8 + ASCII name (1..16) | signature 64.
The signature covers b"CITYCARD holder certificate v1" followed by every byte before it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from card_service.protocol.errors import (
    CertificateExpired,
    MalformedInput,
    SignatureInvalid,
    UnknownIssuerKey,
)

FORMAT = 1
SIG_LEN = 64
MAX_LEN = 240
MAX_CATEGORIES = 8
MAX_CATEGORY_LEN = 16
_DOMAIN = b"CITYCARD holder certificate v1"
_HEAD = struct.Struct(">BB16s16sIB")

IssuerKeys = Mapping[int, Ed25519PublicKey]


def encode_categories(categories: tuple[str, ...]) -> bytes:
    if len(categories) > MAX_CATEGORIES:
        raise MalformedInput(f"at most {MAX_CATEGORIES} entitlement categories")
    out = bytes([len(categories)])
    for name in categories:
        if not (name.isascii() and name.isprintable() and 1 <= len(name) <= MAX_CATEGORY_LEN):
            raise MalformedInput(f"category name must be 1 to 16 printable ASCII: {name!r}")
        raw = name.encode("ascii")
        out += bytes([len(raw)]) + raw
    return out


def decode_categories(data: bytes, at: int) -> tuple[tuple[str, ...], int]:
    """Parse categories starting at ``at``; return them and the offset after them."""
    if at >= len(data):
        raise MalformedInput("truncated before categories")
    count, at = data[at], at + 1
    if count > MAX_CATEGORIES:
        raise MalformedInput("too many categories")
    names = []
    for _ in range(count):
        if at >= len(data):
            raise MalformedInput("truncated category")
        size = data[at]
        raw = data[at + 1 : at + 1 + size]
        if not 1 <= size <= MAX_CATEGORY_LEN or len(raw) != size or not raw.isascii():
            raise MalformedInput("bad category name")
        names.append(raw.decode("ascii"))
        at += 1 + size
    return tuple(names), at


def verify_signed(blob: bytes, domain: bytes, issuer_keys: IssuerKeys) -> tuple[int, bytes]:
    """Check the trailing Ed25519 signature; the issuer key id is byte 1. Return (id, body)."""
    if len(blob) < 2 + SIG_LEN:
        raise MalformedInput("signed object too short")
    body, signature = blob[:-SIG_LEN], blob[-SIG_LEN:]
    key_id = body[1]
    key = issuer_keys.get(key_id)
    if key is None:
        raise UnknownIssuerKey(f"issuer key {key_id} is not trusted")
    try:
        key.verify(signature, domain + body)
    except InvalidSignature as exc:
        raise SignatureInvalid(f"signature does not verify under issuer key {key_id}") from exc
    return key_id, body


@dataclass(frozen=True)
class HolderCertificate:
    """The certificate's content (everything but the signature)."""

    issuer_key_id: int
    card_id: bytes
    holder_pseudonym: bytes
    expires_at: int
    key_version: int
    categories: tuple[str, ...] = ()

    def body(self) -> bytes:
        if len(self.card_id) != 16 or len(self.holder_pseudonym) != 16:
            raise MalformedInput("card id and holder pseudonym are 16 bytes each")
        try:
            head = _HEAD.pack(
                FORMAT,
                self.issuer_key_id,
                self.card_id,
                self.holder_pseudonym,
                self.expires_at,
                self.key_version,
            )
        except struct.error as exc:
            raise MalformedInput(f"certificate field out of range: {exc}") from exc
        return head + encode_categories(self.categories)

    def sign(self, issuer_key: Ed25519PrivateKey) -> bytes:
        """The signed certificate bytes, as written to the card."""
        body = self.body()
        blob = body + issuer_key.sign(_DOMAIN + body)
        if len(blob) > MAX_LEN:
            raise MalformedInput(f"certificate is {len(blob)} bytes, more than {MAX_LEN}")
        return blob

    @classmethod
    def parse_unverified(cls, blob: bytes) -> HolderCertificate:
        body = blob[:-SIG_LEN]
        if len(blob) > MAX_LEN or len(body) < _HEAD.size or body[0] != FORMAT:
            raise MalformedInput("not a format 1 holder certificate")
        _, key_id, card_id, pseudonym, expires, version = _HEAD.unpack_from(body)
        categories, end = decode_categories(body, _HEAD.size)
        if end != len(body):
            raise MalformedInput("trailing bytes in certificate")
        return cls(key_id, card_id, pseudonym, expires, version, categories)

    @classmethod
    def verify(cls, blob: bytes, issuer_keys: IssuerKeys, now: int) -> HolderCertificate:
        """Parse, check the issuer's signature and the expiry; raise a named error otherwise."""
        cert = cls.parse_unverified(blob)
        verify_signed(blob, _DOMAIN, issuer_keys)
        if now >= cert.expires_at:
            raise CertificateExpired(f"certificate expired at {cert.expires_at}")
        return cert
