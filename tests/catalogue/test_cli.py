"""Operators load the demo catalogue from the command line; a bad file exits 1 with its line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from card_service.catalogue.cli import catalogue_app
from card_service.config import get_settings
from tests.fees.support import GIJON_FILE


@pytest.fixture
def runner(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CARD_SERVICE_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()  # type: ignore[misc]
    get_settings.cache_clear()


def test_load_list_and_quote(runner: CliRunner, tmp_path: Path) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    done = runner.invoke(catalogue_app, ["load", str(GIJON_FILE), "--from", soon])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("loaded c")
    skip = runner.invoke(catalogue_app, ["load", str(GIJON_FILE), "--if-empty"])
    assert "nothing done" in skip.output
    listed = runner.invoke(catalogue_app, ["versions"])
    assert "by catalogue load" in listed.output
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    q = runner.invoke(
        catalogue_app, ["quote", "bus", "single", "--at", later, "--born", "1950-01-01"]
    )
    assert q.exit_code == 0, q.output
    assert "holder 50 concession 100 (senior) rule concession" in q.output

    bad = tmp_path / "bad.yaml"
    bad.write_text(GIJON_FILE.read_text().replace("price_cents: 150\n", "price_cents: x\n", 1))
    refused = runner.invoke(catalogue_app, ["load", str(bad), "--from", later])
    assert refused.exit_code == 1
    line = next(i for i, s in enumerate(bad.read_text().splitlines(), 1) if "price_cents: x" in s)
    assert f"bad.yaml:{line}: services.bus.products.single.price_cents" in refused.output
