"""Key storage: versioned AES-128 master keys and the city's Ed25519 issuing keys.

Master key version 0 is the transport key that blank cards leave the factory with; versions 1 and
up are issuing keys. A card carries the version its key was diversified from, so master keys can
rotate: new cards get the current version, old cards keep working until they are replaced.

``FileKeystore`` keeps the keys in one JSON file encrypted with AES-256-GCM under a key derived
from a passphrase with scrypt. In production, validators would hold master keys in a secure
element; the ``Keystore`` protocol is what they would implement.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from card_service.protocol.errors import (
    KeystoreLocked,
    MalformedInput,
    UnknownIssuerKey,
    UnknownKeyVersion,
)

FILE_FORMAT = 1
_AAD = b"CITYCARD keystore v1"


class Keystore(Protocol):
    @property
    def current_version(self) -> int: ...

    def master_key(self, version: int) -> bytes: ...

    def issuer_key(self, key_id: int) -> Ed25519PrivateKey: ...

    def issuer_public_keys(self) -> dict[int, Ed25519PublicKey]: ...


@dataclass
class MemoryKeystore:
    """Keys held in memory (tests, and the decrypted content of a ``FileKeystore``)."""

    masters: dict[int, bytes] = field(default_factory=dict)
    issuers: dict[int, bytes] = field(default_factory=dict)  # raw Ed25519 private keys
    current: int = 0

    @property
    def current_version(self) -> int:
        return self.current

    def master_key(self, version: int) -> bytes:
        key = self.masters.get(version)
        if key is None:
            raise UnknownKeyVersion(f"no master key version {version}")
        return key

    def add_master(self, version: int, key: bytes, make_current: bool = True) -> None:
        if len(key) != 16 or not 0 <= version <= 255:
            raise MalformedInput("a master key is 16 bytes with a version 0..255")
        if version in self.masters:
            raise MalformedInput(f"master key version {version} exists; versions never change")
        self.masters[version] = key
        if make_current and version > 0:
            self.current = version

    def issuer_key(self, key_id: int) -> Ed25519PrivateKey:
        raw = self.issuers.get(key_id)
        if raw is None:
            raise UnknownIssuerKey(f"no issuing key {key_id}")
        return Ed25519PrivateKey.from_private_bytes(raw)

    def add_issuer(self, key_id: int, key: Ed25519PrivateKey) -> None:
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        self.issuers[key_id] = raw

    def issuer_public_keys(self) -> dict[int, Ed25519PublicKey]:
        return {k: self.issuer_key(k).public_key() for k in self.issuers}

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "current": self.current,
                "masters": {str(v): k.hex() for v, k in self.masters.items()},
                "issuers": {str(i): k.hex() for i, k in self.issuers.items()},
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> MemoryKeystore:
        doc = json.loads(data)
        return cls(
            masters={int(v): bytes.fromhex(k) for v, k in doc["masters"].items()},
            issuers={int(i): bytes.fromhex(k) for i, k in doc["issuers"].items()},
            current=int(doc["current"]),
        )


def _kdf(salt: bytes, n: int) -> Scrypt:
    return Scrypt(salt=salt, length=32, n=n, r=8, p=1)


class FileKeystore:
    """A keystore file encrypted under a passphrase (scrypt + AES-256-GCM)."""

    def __init__(self, path: Path, passphrase: str, scrypt_n: int = 2**15) -> None:
        self.path = path
        self._passphrase = passphrase.encode()
        self._n = scrypt_n

    def load(self) -> MemoryKeystore:
        try:
            doc = json.loads(self.path.read_text())
            salt, nonce = bytes.fromhex(doc["salt"]), bytes.fromhex(doc["nonce"])
            key = _kdf(salt, int(doc["scrypt_n"])).derive(self._passphrase)
            plain = AESGCM(key).decrypt(nonce, bytes.fromhex(doc["ciphertext"]), _AAD)
            return MemoryKeystore.from_json(plain)
        except (InvalidTag, KeyError, ValueError, OSError) as exc:
            raise KeystoreLocked(f"cannot open keystore {self.path}: {type(exc).__name__}") from exc

    def save(self, keys: MemoryKeystore) -> None:
        salt, nonce = os.urandom(16), os.urandom(12)
        key = _kdf(salt, self._n).derive(self._passphrase)
        doc = {
            "format": FILE_FORMAT,
            "kdf": "scrypt",
            "scrypt_n": self._n,
            "salt": salt.hex(),
            "nonce": nonce.hex(),
            "ciphertext": AESGCM(key).encrypt(nonce, keys.to_json(), _AAD).hex(),
        }
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
