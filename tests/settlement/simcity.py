"""A back office on a fresh database with a simulated city, and validators wired to it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from card_service.api.app import create_app
from card_service.config import Settings
from card_service.db import transaction
from card_service.terminals.simulate.city import SimCity, SimTerminal, build
from terminals.sync import SyncClient
from terminals.validator.decide import Validator
from terminals.validator.journal import Journal
from terminals.validator.snapshot import LocalSnapshot
from terminals.validator.sync import Syncer


@dataclass
class Rig:
    client: TestClient
    settings: Settings
    city: SimCity
    tmp: Path

    def sessions(self) -> Any:
        return self.client.app.state.sessionmaker  # type: ignore[attr-defined]

    def validator(
        self, terminal: SimTerminal, clock: Any, http: Any = None, name: str | None = None
    ) -> tuple[Validator, Syncer]:
        journal = Journal(self.tmp / f"{name or terminal.identity.terminal_id}.journal")
        trusted = self.city.keys.issuer_public_keys()
        snapshot = LocalSnapshot(journal, trusted, terminal.identity.terminal_id, clock)
        validator = Validator(
            terminal.identity.terminal_id, terminal.service, journal, snapshot, self.city.keys
        )
        client = SyncClient("http://testserver", terminal.identity, http=http or self.client)
        return validator, Syncer(client, journal, snapshot)

    def verify(self) -> None:
        from card_service.ledger.seal import seal
        from card_service.ledger.verify import verify

        with transaction(self.sessions()) as s:
            seal(s)
        with transaction(self.sessions()) as s:
            report = verify(s)
        assert report.ok, report.problems


@contextmanager
def rig(
    url: str,
    tmp_path: Path,
    holders: int = 50,
    purse_cents: int = 10_000,
    terminals: int = 2,
    empty_share: float = 0,
    **more: Any,
) -> Iterator[Rig]:
    settings = Settings(
        **more,
        database_url=url,
        ledger_maintenance_interval_s=0,
        pii_keyring_path=tmp_path / "pii-keyring.json",
        keystore_path=tmp_path / "keystore.json",
        keystore_passphrase="test",
    )
    with TestClient(create_app(settings)) as client:
        factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
        specs = [(100 + i, "bus_validator", "bus", f"bus {i}") for i in range(terminals)]
        city = build(
            factory, settings, holders=holders, purse_cents=purse_cents, terminals=specs,
            rng=random.Random(7), empty_share=empty_share,
        )  # fmt: skip
        yield Rig(client, settings, city, tmp_path)
