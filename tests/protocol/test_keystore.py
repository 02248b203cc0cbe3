from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from card_service.protocol.errors import KeystoreLocked, MalformedInput, UnknownKeyVersion
from card_service.protocol.keystore import FileKeystore, MemoryKeystore


def test_file_keystore_round_trip_and_keys_not_in_clear(tmp_path: Path) -> None:
    keys = MemoryKeystore()
    master = os.urandom(16)
    keys.add_master(0, os.urandom(16))
    keys.add_master(1, master)
    issuer = Ed25519PrivateKey.generate()
    keys.add_issuer(1, issuer)
    store = FileKeystore(tmp_path / "keys.json", "correct horse", scrypt_n=2**10)
    store.save(keys)
    assert master.hex() not in (tmp_path / "keys.json").read_text()
    loaded = store.load()
    assert loaded.master_key(1) == master
    assert loaded.current_version == 1
    assert (
        loaded.issuer_public_keys()[1].public_bytes_raw() == issuer.public_key().public_bytes_raw()
    )


def test_wrong_passphrase_is_keystore_locked(tmp_path: Path) -> None:
    FileKeystore(tmp_path / "k.json", "right", scrypt_n=2**10).save(MemoryKeystore())
    with pytest.raises(KeystoreLocked) as err:
        FileKeystore(tmp_path / "k.json", "wrong").load()
    assert err.value.code == "keystore_locked"


def test_rotation_keeps_old_versions_and_never_rewrites_one() -> None:
    keys = MemoryKeystore()
    keys.add_master(1, os.urandom(16))
    old = keys.master_key(1)
    keys.add_master(2, os.urandom(16))
    assert keys.current_version == 2
    assert keys.master_key(1) == old
    with pytest.raises(MalformedInput):
        keys.add_master(1, os.urandom(16))
    with pytest.raises(UnknownKeyVersion):
        keys.master_key(3)
