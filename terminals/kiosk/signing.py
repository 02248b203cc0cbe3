"""The kiosk's terminal credentials: every request to card_service is signed (RFC 9421, Ed25519)
with the key it was enrolled with, by the same signer the validators use (``terminals.sync``).

The identity file (``card_service.protocol.terminal_identity``) holds the terminal id and the
private key; the demo seed makes and enrols the demo kiosk's (``card-service demo seed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from card_service.protocol.terminal_identity import read_identity
from terminals.sync import TerminalIdentity, signed_headers

SIGNATURE_HEADERS = ("content-digest", "signature-input", "signature")


def load_identity(path: Path) -> TerminalIdentity:
    terminal_id, kind, key = read_identity(path)
    if kind != "kiosk":
        raise ValueError(f"{path} is the identity of a {kind}, not of a kiosk")
    return TerminalIdentity(terminal_id, key)


def request_signer(
    identity: TerminalIdentity, clock: Callable[[], float] = time.time
) -> Callable[[httpx.Request], None]:
    """A ``CardServiceClient(sign=...)``: adds Content-Digest, Signature-Input and Signature."""

    def sign(request: httpx.Request) -> None:
        made = signed_headers(identity, request.method, str(request.url), request.content, clock())
        for name, value in made.items():
            if name.lower() in SIGNATURE_HEADERS:
                request.headers[name] = value

    return sign
