"""The simulator: a small city's day, settled in-process, reconciles and verifies."""

from __future__ import annotations

from pathlib import Path

from card_service.config import Settings
from card_service.terminals.simulate.run import in_process, simulate


def test_a_city_day_reconciles(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=sqlite_url,
        ledger_maintenance_interval_s=0,
        pii_keyring_path=tmp_path / "pii.json",
        keystore_path=tmp_path / "keystore.json",
        keystore_passphrase="test",
    )
    with in_process(settings) as (factory, http, base):
        report = simulate(
            factory, settings, tmp_path, http=http, base_url=base, days=2, holders=150,
            buses=4, doors=2, down_share=0.3, seed_value=3,
        )  # fmt: skip
    assert report.taps_made > 300
    assert report.verify_ok, report.problems
    assert report.reconciled, report
    assert report.outcomes["exception"]["taps"] > 0  # empty purses: revenue loss, reported
