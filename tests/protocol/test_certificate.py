from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from card_service.protocol.certificate import MAX_LEN, HolderCertificate
from card_service.protocol.errors import (
    CertificateExpired,
    MalformedInput,
    SignatureInvalid,
    UnknownIssuerKey,
)

ISSUER = Ed25519PrivateKey.generate()
TRUSTED = {3: ISSUER.public_key()}
NOW = 1_800_000_000

names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=16
)
certificates = st.builds(
    HolderCertificate,
    issuer_key_id=st.just(3),
    card_id=st.binary(min_size=16, max_size=16),
    holder_pseudonym=st.binary(min_size=16, max_size=16),
    expires_at=st.integers(min_value=NOW + 1, max_value=2**32 - 1),
    key_version=st.integers(min_value=1, max_value=255),
    categories=st.lists(names, max_size=8).map(tuple),
)


@settings(max_examples=50)
@given(cert=certificates)
def test_round_trip_and_fits_a_card_file(cert: HolderCertificate) -> None:
    blob = cert.sign(ISSUER)
    assert len(blob) <= MAX_LEN
    assert HolderCertificate.verify(blob, TRUSTED, NOW) == cert


def _cert(**changes: object) -> HolderCertificate:
    fields: dict[str, object] = {
        "issuer_key_id": 3,
        "card_id": b"C" * 16,
        "holder_pseudonym": b"P" * 16,
        "expires_at": NOW + 86400,
        "key_version": 1,
        "categories": ("senior", "resident"),
    }
    fields.update(changes)
    return HolderCertificate(**fields)  # type: ignore[arg-type]


def test_expired_certificate_is_refused() -> None:
    blob = _cert(expires_at=NOW).sign(ISSUER)
    with pytest.raises(CertificateExpired) as err:
        HolderCertificate.verify(blob, TRUSTED, NOW)
    assert err.value.code == "certificate_expired"


def test_certificate_from_unknown_issuer_key_is_refused() -> None:
    blob = _cert(issuer_key_id=9).sign(Ed25519PrivateKey.generate())
    with pytest.raises(UnknownIssuerKey):
        HolderCertificate.verify(blob, TRUSTED, NOW)


def test_certificate_signed_by_another_key_under_a_trusted_id_is_refused() -> None:
    blob = _cert().sign(Ed25519PrivateKey.generate())
    with pytest.raises(SignatureInvalid):
        HolderCertificate.verify(blob, TRUSTED, NOW)


def test_altered_categories_break_the_signature() -> None:
    blob = bytearray(_cert(categories=("student",)).sign(ISSUER))
    at = blob.index(b"student")
    blob[at : at + 7] = b"seniorx"
    with pytest.raises(SignatureInvalid):
        HolderCertificate.verify(bytes(blob), TRUSTED, NOW)


@pytest.mark.parametrize("blob", [b"", b"\x01" * 10, b"\x02" + bytes(120), bytes(300)])
def test_garbage_is_malformed_not_a_crash(blob: bytes) -> None:
    with pytest.raises(MalformedInput):
        HolderCertificate.verify(blob, TRUSTED, NOW)


def test_category_names_are_checked() -> None:
    with pytest.raises(MalformedInput):
        _cert(categories=("x" * 17,)).sign(ISSUER)
    with pytest.raises(MalformedInput):
        _cert(categories=("ñandú",)).sign(ISSUER)
