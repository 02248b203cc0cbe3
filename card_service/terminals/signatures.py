"""Checking a terminal's signed request: HTTP Message Signatures (RFC 9421), Ed25519.

The terminal signs ``@method``, ``@path`` and ``content-digest`` (so the body) with the key it was
enrolled with; ``keyid`` is its terminal id and ``tag`` is ``citycard-terminal``. A request is
refused, each with its own named error, when the headers are missing, the terminal is unknown or
disabled, ``created`` is outside the configured window around the server's clock, or the signature
or digest does not verify.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from sqlalchemy.orm import Session

from card_service.api.problems import DomainError
from card_service.protocol.terminal_wire import COVERED, SIGNATURE_TAG
from card_service.terminals.errors import (
    ClockOutsideWindow,
    SignatureInvalid,
    SignatureMissing,
    TerminalDisabled,
    TerminalUnknown,
)
from card_service.terminals.models import Terminal


class Message:
    """The parts of a request the signature library reads."""

    def __init__(self, method: str, url: str, headers: Mapping[str, str]) -> None:
        self.method = method
        self.url = url
        self.headers = headers


class _Terminals(HTTPSignatureKeyResolver):
    def __init__(self, session: Session) -> None:
        self.session = session
        self.terminal: Terminal | None = None

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        terminal = self.session.get(Terminal, int(key_id)) if key_id.isdigit() else None
        if terminal is None:
            raise TerminalUnknown(f"no terminal {key_id[:20]!r} is enrolled")
        if terminal.status != "active":
            raise TerminalDisabled(f"terminal {terminal.id} is disabled")
        self.terminal = terminal
        return Ed25519PublicKey.from_public_bytes(terminal.public_key)

    def resolve_private_key(self, key_id: str) -> Any:
        raise NotImplementedError


class _Verifier(HTTPMessageVerifier):
    def __init__(self, keys: _Terminals, window_s: int, now: Callable[[], float]) -> None:
        super().__init__(signature_algorithm=algorithms.ED25519, key_resolver=keys)
        self.window_s = window_s
        self.now = now

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        created = sig_input.params.get("created")
        if type(created) is not int:
            raise SignatureInvalid("the signature has no integer created parameter")
        skew = created - self.now()
        if abs(skew) > self.window_s:
            raise ClockOutsideWindow(
                f"signature created {skew:+.0f} s from the server's clock; the window is "
                f"±{self.window_s} s"
            )
        expires = sig_input.params.get("expires")
        if type(expires) is int and expires < self.now() - self.window_s:
            raise ClockOutsideWindow("the signature has expired")


def verify_request(
    session: Session,
    message: Message,
    body: bytes,
    window_s: int,
    now: Callable[[], float] = time.time,
) -> Terminal:
    """The active terminal that signed this request, or a named error."""
    headers = {k.lower() for k in message.headers}
    if not {"signature-input", "signature", "content-digest"} <= headers:
        raise SignatureMissing("sign the request: Signature-Input, Signature, Content-Digest")
    keys = _Terminals(session)
    verifier = _Verifier(keys, window_s, now)
    try:
        verifier.verify(
            message,
            max_age=datetime.timedelta(seconds=window_s),
            expect_tag=SIGNATURE_TAG,
            require_components=COVERED,
            body=body,
        )
    except InvalidSignature as exc:
        cause = exc.__cause__ or (exc.args[0] if exc.args else None)
        if isinstance(cause, DomainError):
            raise cause from None
        raise SignatureInvalid(f"signature does not verify: {exc}") from exc
    except DomainError:
        raise
    except Exception as exc:  # the library's HTTPMessageSignaturesException: malformed headers
        raise SignatureInvalid(f"signature headers are malformed: {exc}") from exc
    assert keys.terminal is not None
    return keys.terminal
