"""Keys for personal data: a keyring of master keys, per-holder data keys, keyed lookup hashes.

* Master keys (AES-256, each with a key id) live outside the database: in the keyring file under
  var/ (generated on first use, for the embedded default) or in CARD_SERVICE_PII_KEYRING (JSON).
  They wrap each holder's data key and the staff TOTP secrets.
* Each holder has a data key (AES-256-GCM, with its own random key id) that encrypts that holder's
  personal fields. Destroying it erases the holder (crypto-shredding).
* Lookups by national id use HMAC-SHA256 under the lookup key; the clear value is never stored.

Sealed blobs carry a version byte and the key id, so readers find the right key during rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from card_service.identity.errors import PiiKeyUnavailable

VERSION = 1
NONCE = 12


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


def new_key_id() -> str:
    return "m" + secrets.token_hex(4)


@dataclass
class Keyring:
    """Master keys by id, the id new data is wrapped under, and the lookup-hash key."""

    current: str
    master_keys: dict[str, bytes]
    lookup_key: bytes
    path: Path | None = None
    _mtime: float = field(default=0.0, repr=False)

    @classmethod
    def generate(cls, path: Path | None = None) -> Keyring:
        kid = new_key_id()
        return cls(kid, {kid: AESGCM.generate_key(256)}, secrets.token_bytes(32), path)

    @classmethod
    def from_json(cls, text: str, path: Path | None = None) -> Keyring:
        raw = json.loads(text)
        keys = {k: _unb64(v) for k, v in raw["master_keys"].items()}
        if raw["current"] not in keys:
            raise PiiKeyUnavailable("the keyring's current master key is not in the keyring")
        return cls(raw["current"], keys, _unb64(raw["lookup_key"]), path)

    def to_json(self) -> str:
        return json.dumps(
            {
                "current": self.current,
                "master_keys": {k: _b64(v) for k, v in self.master_keys.items()},
                "lookup_key": _b64(self.lookup_key),
            },
            indent=2,
        )

    def save(self) -> None:
        if self.path is None:
            raise PiiKeyUnavailable("this keyring comes from the environment: rotate it there")
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def add_master_key(self) -> str:
        """A new current master key; the old ones stay until nothing is wrapped under them."""
        kid = new_key_id()
        self.master_keys[kid] = AESGCM.generate_key(256)
        self.current = kid
        self.save()
        return kid

    # Sealing under a master key: b"\x01" | len(kid) | kid | nonce | ciphertext+tag
    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        kid = self.current.encode()
        header = bytes([VERSION, len(kid)]) + kid
        nonce = os.urandom(NONCE)
        return (
            header
            + nonce
            + AESGCM(self.master_keys[self.current]).encrypt(nonce, plaintext, header + aad)
        )

    def master_key_id(self, blob: bytes) -> str:
        return blob[2 : 2 + blob[1]].decode()

    def open(self, blob: bytes, aad: bytes) -> bytes:
        if not blob or blob[0] != VERSION:
            raise PiiKeyUnavailable("unknown sealed-blob version")
        kid = self.master_key_id(blob)
        key = self.master_keys.get(kid)
        if key is None:
            raise PiiKeyUnavailable(f"master key {kid} is not in the keyring")
        header_len = 2 + blob[1]
        nonce = blob[header_len : header_len + NONCE]
        try:
            return AESGCM(key).decrypt(nonce, blob[header_len + NONCE :], blob[:header_len] + aad)
        except InvalidTag as exc:
            raise PiiKeyUnavailable("a sealed value does not open under its key") from exc

    def lookup_hash(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA256 of ``purpose:value``: equal values match, the value cannot be read back."""
        return hmac.new(self.lookup_key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()


# A holder's data key encrypts that holder's personal fields:
# b"\x01" | key id (8 bytes) | nonce | ciphertext+tag, with the holder's pseudonym as context.
def seal_fields(data_key: bytes, key_id: bytes, context: str, fields: dict[str, Any]) -> bytes:
    header = bytes([VERSION]) + key_id
    nonce = os.urandom(NONCE)
    plaintext = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    return header + nonce + AESGCM(data_key).encrypt(nonce, plaintext, header + context.encode())


def open_fields(data_key: bytes, key_id: bytes, context: str, blob: bytes) -> dict[str, Any]:
    header = blob[:9]
    if blob[0] != VERSION or header[1:] != key_id:
        raise PiiKeyUnavailable("personal data was sealed under another data key")
    try:
        plain = AESGCM(data_key).decrypt(blob[9:21], blob[21:], header + context.encode())
    except InvalidTag as exc:
        raise PiiKeyUnavailable("personal data does not open under the holder's data key") from exc
    result: dict[str, Any] = json.loads(plain)
    return result


_lock = threading.Lock()
_cache: dict[str, Keyring] = {}


def keyring_for(inline: str | None, path: Path) -> Keyring:
    """The keyring from inline JSON, or from the file (created on first use, reloaded on change)."""
    if inline:
        with _lock:
            ring = _cache.get("inline:" + inline)
            if ring is None:
                ring = _cache["inline:" + inline] = Keyring.from_json(inline)
            return ring
    key = str(path.resolve())
    with _lock:
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(Keyring.generate(path).to_json())
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # atomic: fails if another process made the keyring first
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
            mtime = path.stat().st_mtime
        ring = _cache.get(key)
        if ring is None or ring._mtime != mtime:
            ring = Keyring.from_json(path.read_text(), path)
            ring._mtime = mtime
            _cache[key] = ring
        return ring
