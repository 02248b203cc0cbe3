"""Finance staff run `card-service ledger verify`: it says what it checked, and exits 1 naming
the first wrong account."""

from sqlalchemy import text
from typer.testing import CliRunner

from card_service.cli import app
from card_service.config import get_settings
from card_service.db import transaction
from tests.ledger.helpers import PURSE, open_accounts, req, run


def test_verify_command_passes_then_names_the_wrong_account(sessions, db_url, monkeypatch):
    bank, purse = open_accounts(sessions, ("bank", 0, None), ("purse", PURSE, None))
    run(sessions, req(bank, purse, 500))
    monkeypatch.setenv("CARD_SERVICE_DATABASE_URL", db_url)
    get_settings.cache_clear()
    runner = CliRunner()
    ok = runner.invoke(app, ["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "checked accounts: 2" in ok.output and "ledger verified" in ok.output
    with transaction(sessions) as s:
        s.execute(text("UPDATE ledger_accounts SET debits_posted = 7 WHERE id = :a"), {"a": purse})
    bad = runner.invoke(app, ["ledger", "verify"])
    assert bad.exit_code == 1
    assert f"account {purse} (purse)" in bad.output
    get_settings.cache_clear()
