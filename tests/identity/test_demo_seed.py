"""``card-service demo seed`` builds a usable city; ``--if-empty`` leaves an existing one alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from card_service.cards.models import Card
from card_service.cli import app
from card_service.config import get_settings
from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.identity.models import Holder, HolderNameWord
from card_service.ledger.models import Account
from tests.api.support import code, desk


def _fields(output: str, marker: str) -> dict[str, str]:
    line = next(line for line in output.splitlines() if marker in line)
    return dict(w.split("=", 1) for w in line.split() if "=" in w)


def test_seed_then_sign_in_as_persona_and_staff(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARD_SERVICE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CARD_SERVICE_PII_KEYRING_PATH", str(tmp_path / "pii-keyring.json"))
    kiosk_identity = tmp_path / "kiosk-terminal.json"
    monkeypatch.setenv("CARD_SERVICE_DEMO_KIOSK_IDENTITY_PATH", str(kiosk_identity))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["demo", "seed", "--holders", "120", "--if-empty"])
        assert first.exit_code == 0, first.output
        assert "seeded 120 generated holders" in first.output
        again = runner.invoke(app, ["demo", "seed", "--if-empty"])
        assert again.exit_code == 0 and "nothing seeded" in again.output
        # The demo kiosk is an enrolled terminal whose key the kiosk runtime reads.
        assert f"kiosk terminal 9001 enrolled (its key: {kiosk_identity})" in first.output
        assert "kiosk terminal 9001 enrolled already" in again.output
        assert kiosk_identity.stat().st_mode & 0o777 == 0o600
        # Every holder, bulk ones too, is in the blind name index; the backfill finds them all.
        engine = make_engine(sqlite_url)
        with transaction(make_sessionmaker(engine)) as s:
            indexed = s.scalar(select(func.count(func.distinct(HolderNameWord.holder_id))))
        engine.dispose()
        assert indexed == 123
        reindex = runner.invoke(app, ["holders", "reindex-names", "--batch-size", "50"])
        assert reindex.exit_code == 0 and "rebuilt for 123 holders" in reindex.output
    finally:
        get_settings.cache_clear()

    engine = make_engine(sqlite_url)
    with transaction(make_sessionmaker(engine)) as s:
        holders = s.scalar(select(func.count()).select_from(Holder))
        active = s.scalar(select(func.count()).select_from(Card).where(Card.status == "active"))
        purses = s.scalar(select(func.count()).select_from(Account).where(Account.kind == "purse"))
    engine.dispose()
    assert holders == active == purses == 123  # 120 generated and 3 personas

    with desk(sqlite_url, tmp_path, staff=False) as d:
        fields = _fields(first.output, "national_id=10000000Z")
        me = d.citizen(fields["card"], fields["pin"])
        assert d.client.get("/v1/me", headers=me).json()["name"] == "Covadonga"
        clerk = _fields(first.output, "staff clerk ")
        r = d.client.post(
            "/v1/staff/login",
            json={
                "username": "clerk",
                "password": clerk["password"],
                "totp": code(clerk["totp_secret"]),
            },
        )
        assert r.status_code == 200, r.text
