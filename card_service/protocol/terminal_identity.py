"""A terminal's identity file: its id and its Ed25519 private key (the key it signs requests
with, RFC 9421). JSON ``{"terminal_id": N, "kind": "...", "private_key": "<64 hex digits>"}``,
created with mode 0600. Both the terminal (which reads it) and the demo seed (which makes and
enrols the demo kiosk's) use this module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from card_service.protocol.errors import MalformedInput


def public_key(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def write_identity(path: Path, terminal_id: int, kind: str, key: Ed25519PrivateKey) -> None:
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    doc = {"terminal_id": terminal_id, "kind": kind, "private_key": raw.hex()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)


def read_identity(path: Path) -> tuple[int, str, Ed25519PrivateKey]:
    """The terminal's id, kind and private key."""
    try:
        doc = json.loads(path.read_text())
        terminal_id, kind = int(doc["terminal_id"]), str(doc["kind"])
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(doc["private_key"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedInput(f"{path} is not a terminal identity file: {exc}") from exc
    return terminal_id, kind, key
