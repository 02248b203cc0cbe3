"""The city's card keys as the service holds them: an encrypted keystore file (master keys for
diversification, Ed25519 issuing keys), opened once per process.

With no passphrase configured (the embedded demo) a random one is written beside the keystore,
readable by its owner only: fine for a demo, not for a city. Production sets
``CARD_SERVICE_KEYSTORE_PASSPHRASE``.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from card_service.config import Settings
from card_service.protocol.keystore import FileKeystore, MemoryKeystore

ISSUING_KEY_ID = 1
_lock = threading.Lock()
_open: dict[str, MemoryKeystore] = {}


def _demo_passphrase(path: Path) -> str:
    secret = path.with_suffix(".passphrase")
    if not secret.exists():
        secret.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return secret.read_text().strip()


def keystore_for(settings: Settings) -> MemoryKeystore:
    """The open keystore; created with a first master key and issuing key when missing."""
    path = Path(settings.keystore_path)
    with _lock:
        keys = _open.get(str(path.resolve()))
        if keys is not None:
            return keys
        passphrase = settings.keystore_passphrase or _demo_passphrase(path)
        store = FileKeystore(path, passphrase)
        if path.exists():
            keys = store.load()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            keys = MemoryKeystore()
            keys.add_master(1, secrets.token_bytes(16))
            keys.add_issuer(ISSUING_KEY_ID, Ed25519PrivateKey.generate())
            store.save(keys)
        _open[str(path.resolve())] = keys
        return keys
