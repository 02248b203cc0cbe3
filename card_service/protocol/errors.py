"""Named errors of the card protocol. Each has a stable snake_case ``code``.

Terminals, validators and the back office report these codes; they never change meaning.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every card protocol error."""

    code = "protocol_error"


class MalformedInput(ProtocolError):
    """Bytes that do not parse as what they claim to be (an APDU, a certificate, a token)."""

    code = "malformed_input"


class UnknownKeyVersion(ProtocolError):
    """The card or tap names a master key version the keystore does not hold."""

    code = "unknown_key_version"


class MacMismatch(ProtocolError):
    """A MAC (tap record or secure messaging) does not match the data."""

    code = "mac_mismatch"


class CounterReplayed(ProtocolError):
    """A tap's card counter was already seen for that card."""

    code = "counter_replayed"


class CertificateExpired(ProtocolError):
    """The holder certificate or mobile credential is past its expiry."""

    code = "certificate_expired"


class UnknownIssuerKey(ProtocolError):
    """Signed by an issuing key id that is not among the city's trusted keys."""

    code = "unknown_issuer_key"


class SignatureInvalid(ProtocolError):
    """An Ed25519 signature does not verify under the key it names."""

    code = "signature_invalid"


class AuthenticationFailed(ProtocolError):
    """Mutual authentication failed: the other side does not hold the same key."""

    code = "authentication_failed"


class TokenExpired(ProtocolError):
    """A mobile token's time step is older than the accepted window."""

    code = "token_expired"


class TokenFromFuture(ProtocolError):
    """A mobile token's time step is later than the accepted window (clock skew)."""

    code = "token_from_future"


class TokenReplayed(ProtocolError):
    """The same mobile token (device, time step) was already accepted."""

    code = "token_replayed"


class KeystoreLocked(ProtocolError):
    """The keystore file could not be opened: wrong passphrase or damaged file."""

    code = "keystore_locked"
