from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from card_service.protocol.errors import (
    CertificateExpired,
    MalformedInput,
    SignatureInvalid,
    TokenExpired,
    TokenFromFuture,
    TokenReplayed,
    UnknownIssuerKey,
)
from card_service.protocol.mobile import (
    STEP_SECONDS,
    MobileCredential,
    TokenVerifier,
    raw_public_key,
    render_qr,
    sign_token,
)

CITY = Ed25519PrivateKey.generate()
NOW = 1_800_000_015.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _issue(device: Ed25519PrivateKey, expires: int = int(NOW) + 86400, key_id: int = 1) -> bytes:
    cred = MobileCredential(
        key_id, b"P" * 16, raw_public_key(device.public_key()), expires, ("senior",)
    )
    return cred.sign(CITY)


def _verifier(clock: Clock) -> TokenVerifier:
    return TokenVerifier({1: CITY.public_key()}, clock)


def test_fresh_token_is_accepted_once() -> None:
    device = Ed25519PrivateKey.generate()
    token = sign_token(device, _issue(device), NOW)
    verifier = _verifier(Clock(NOW + 5))
    accepted = verifier.verify(token)
    assert accepted.credential.categories == ("senior",)
    with pytest.raises(TokenReplayed):
        verifier.verify(token)


def test_token_of_the_previous_step_passes_older_does_not() -> None:
    device = Ed25519PrivateKey.generate()
    cred = _issue(device)
    verifier = _verifier(Clock(NOW))
    verifier.verify(sign_token(device, cred, NOW - STEP_SECONDS))
    with pytest.raises(TokenExpired):
        verifier.verify(sign_token(device, cred, NOW - 2 * STEP_SECONDS))
    with pytest.raises(TokenFromFuture):
        verifier.verify(sign_token(device, cred, NOW + 2 * STEP_SECONDS))


def test_token_signed_by_another_device_is_refused() -> None:
    device, thief = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    token = sign_token(thief, _issue(device), NOW)
    with pytest.raises(SignatureInvalid):
        _verifier(Clock(NOW)).verify(token)


def test_credential_from_unknown_issuer_or_expired_is_refused() -> None:
    device = Ed25519PrivateKey.generate()
    with pytest.raises(UnknownIssuerKey):
        _verifier(Clock(NOW)).verify(sign_token(device, _issue(device, key_id=2), NOW))
    with pytest.raises(CertificateExpired):
        _verifier(Clock(NOW)).verify(sign_token(device, _issue(device, expires=int(NOW)), NOW))


@pytest.mark.parametrize("payload", ["", "CC1:", "CC1:!!!", "CC2:AAAA", "CC1:AAAAAAAA"])
def test_garbage_payload_is_malformed(payload: str) -> None:
    with pytest.raises(MalformedInput):
        _verifier(Clock(NOW)).verify(payload)


def test_qr_code_holds_the_token() -> None:
    device = Ed25519PrivateKey.generate()
    token = sign_token(device, _issue(device), NOW)
    svg = render_qr(token)
    assert svg.startswith("<svg") and "path" in svg
    import segno

    assert segno.make_qr(token, error="m").version <= 15  # scannable from a phone screen
