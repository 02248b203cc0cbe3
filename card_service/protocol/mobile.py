"""Mobile credential: a city-signed credential for a device key, and the phone's QR token.

Credential (Ed25519-signed by an issuing key), big-endian:
format u8 (=2) | issuer key id u8 | holder pseudonym 16 | device public key 32 | expiry u32
| categories (as in the holder certificate) | signature 64 over b"CITYCARD mobile credential v1"
followed by the body.

Token (what the QR code holds, as "CC1:" + unpadded base64url):
credential length u8 | credential | time step u32 | device signature 64 over
b"CITYCARD mobile token v1" || SHA-256(credential) || time step.

The time step is floor(Unix time / 30). A validator accepts the current step and the one before
(clock skew and the time to walk to the validator), refuses anything older or later, and refuses a
(device key, step) it has already accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from card_service.protocol.certificate import (
    SIG_LEN,
    IssuerKeys,
    decode_categories,
    encode_categories,
    verify_signed,
)
from card_service.protocol.errors import (
    CertificateExpired,
    MalformedInput,
    SignatureInvalid,
    TokenExpired,
    TokenFromFuture,
)
from card_service.protocol.replay import ReplayCache

FORMAT = 2
STEP_SECONDS = 30
QR_PREFIX = "CC1:"
_CRED_DOMAIN = b"CITYCARD mobile credential v1"
_TOKEN_DOMAIN = b"CITYCARD mobile token v1"
_HEAD = struct.Struct(">BB16s32sI")
_STEP = struct.Struct(">I")


def time_step(now: float) -> int:
    return int(now // STEP_SECONDS)


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class MobileCredential:
    issuer_key_id: int
    holder_pseudonym: bytes
    device_key: bytes  # raw Ed25519 public key, 32 bytes
    expires_at: int
    categories: tuple[str, ...] = ()

    def body(self) -> bytes:
        if len(self.holder_pseudonym) != 16 or len(self.device_key) != 32:
            raise MalformedInput("pseudonym is 16 bytes and device key 32 bytes")
        try:
            head = _HEAD.pack(
                FORMAT, self.issuer_key_id, self.holder_pseudonym, self.device_key, self.expires_at
            )
        except struct.error as exc:
            raise MalformedInput(f"credential field out of range: {exc}") from exc
        return head + encode_categories(self.categories)

    def sign(self, issuer_key: Ed25519PrivateKey) -> bytes:
        """The city's signed credential for this device key."""
        body = self.body()
        return body + issuer_key.sign(_CRED_DOMAIN + body)

    @classmethod
    def parse_unverified(cls, blob: bytes) -> MobileCredential:
        body = blob[:-SIG_LEN]
        if len(body) < _HEAD.size or body[0] != FORMAT:
            raise MalformedInput("not a format 2 mobile credential")
        _, key_id, pseudonym, device_key, expires = _HEAD.unpack_from(body)
        categories, end = decode_categories(body, _HEAD.size)
        if end != len(body):
            raise MalformedInput("trailing bytes in credential")
        return cls(key_id, pseudonym, device_key, expires, categories)

    @classmethod
    def verify(cls, blob: bytes, issuer_keys: IssuerKeys, now: int) -> MobileCredential:
        cred = cls.parse_unverified(blob)
        verify_signed(blob, _CRED_DOMAIN, issuer_keys)
        if now >= cred.expires_at:
            raise CertificateExpired(f"credential expired at {cred.expires_at}")
        return cred


def _token_message(credential: bytes, step: int) -> bytes:
    return _TOKEN_DOMAIN + hashlib.sha256(credential).digest() + _STEP.pack(step)


def sign_token(device_key: Ed25519PrivateKey, credential: bytes, now: float) -> str:
    """Phone side: the QR payload text for the current time step."""
    if len(credential) > 255:
        raise MalformedInput("credential longer than 255 bytes")
    step = time_step(now)
    signature = device_key.sign(_token_message(credential, step))
    raw = bytes([len(credential)]) + credential + _STEP.pack(step) + signature
    return QR_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def render_qr(payload: str, scale: int = 4) -> str:
    """Phone side: the QR code of a token as an SVG document."""
    import segno

    qr = segno.make_qr(payload, error="m")
    return str(qr.svg_inline(scale=scale))


@dataclass(frozen=True)
class AcceptedToken:
    credential: MobileCredential
    step: int


def decode_token(payload: str) -> tuple[bytes, int, bytes]:
    """QR text -> (credential bytes, time step, device signature)."""
    if not payload.startswith(QR_PREFIX):
        raise MalformedInput("not a CC1 token")
    text = payload[len(QR_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedInput("token is not base64url") from exc
    if not raw:
        raise MalformedInput("empty token")
    size = raw[0]
    if len(raw) != 1 + size + _STEP.size + SIG_LEN:
        raise MalformedInput("token length does not match")
    credential = raw[1 : 1 + size]
    (step,) = _STEP.unpack_from(raw, 1 + size)
    return credential, step, raw[1 + size + _STEP.size :]


class TokenVerifier:
    """Validator side: offline checks of a QR token, with a replay cache."""

    def __init__(
        self,
        issuer_keys: IssuerKeys,
        clock: Callable[[], float],
        window_steps: int = 1,
        replay: ReplayCache | None = None,
    ) -> None:
        self._issuer_keys = issuer_keys
        self._clock = clock
        self._window = window_steps
        self._replay = replay if replay is not None else ReplayCache()

    def verify(self, payload: str) -> AcceptedToken:
        now = self._clock()
        credential_blob, step, signature = decode_token(payload)
        credential = MobileCredential.verify(credential_blob, self._issuer_keys, int(now))
        current = time_step(now)
        if step < current - self._window:
            raise TokenExpired(f"token step {step} is older than the window (now {current})")
        if step > current + self._window:
            raise TokenFromFuture(f"token step {step} is ahead of now ({current})")
        try:
            device = Ed25519PublicKey.from_public_bytes(credential.device_key)
            device.verify(signature, _token_message(credential_blob, step))
        except (InvalidSignature, ValueError) as exc:
            raise SignatureInvalid("token not signed by the credential's device key") from exc
        self._replay.admit(credential.device_key, step, oldest_live=current - self._window)
        return AcceptedToken(credential, step)
