"""Fixtures for the terminal tests: keys, blank cards, and the real PC/SC rig."""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from card_service.protocol.keystore import MemoryKeystore
from terminals.pcsc.personalise import CardIssue
from terminals.virtual_card.state import CardFile, CardStore
from tests.conftest import require
from tests.terminals.rig import Pcscd, pcscd_missing


@pytest.fixture
def keys() -> MemoryKeystore:
    ks = MemoryKeystore()
    ks.add_master(0, os.urandom(16))  # transport key of blank cards
    ks.add_master(1, os.urandom(16))
    ks.add_issuer(1, Ed25519PrivateKey.generate())
    return ks


@pytest.fixture
def blank_card(tmp_path: Path, keys: MemoryKeystore) -> Callable[[str], CardStore]:
    def make(uid_hex: str = "04A1B2C3D4E5F6") -> CardStore:
        store = CardStore(tmp_path / f"card-{uid_hex}.json")
        store.save(CardFile.blank(bytes.fromhex(uid_hex), keys.master_key(0)))
        return store

    return make


def issue(expires_in: int = 86400, categories: tuple[str, ...] = ("resident",)) -> CardIssue:
    return CardIssue(os.urandom(16), os.urandom(16), int(time.time()) + expires_in, categories, 1)


PCSC_LOCK = Path(tempfile.gettempdir()) / "card-service-pcscd.lock"


@pytest.fixture
def pcscd() -> Iterator[Pcscd]:
    """A pcscd of this test's own. Tests using it are in xdist group "pcsc"; the file lock keeps
    them one at a time even if the grouping does not hold (one pcscd per machine)."""
    with PCSC_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = pcscd_missing()
        require(missing is None, missing or "")
        daemon = Pcscd()
        daemon.start()
        try:
            yield daemon
        finally:
            daemon.stop()
