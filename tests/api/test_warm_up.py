"""The service's start-up warm-up (api/warm.py) leaves no trace: no audit record, no session, no
PIN failure counted; and the service answers sign-ins normally afterwards."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from card_service.api.app import create_app
from card_service.audit.models import AuditEvent
from card_service.cards.models import Card
from card_service.db import transaction
from card_service.staff.models import AuthSession
from tests.api.support import desk


def _trace(d) -> tuple[int, int, list[int]]:  # type: ignore[no-untyped-def]
    with transaction(d.sessions()) as s:
        return (
            int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0),
            int(s.scalar(select(func.count()).select_from(AuthSession)) or 0),
            list(s.scalars(select(Card.pin_failures))),
        )


def test_a_restarted_service_warms_up_without_writing_anything(
    sqlite_url: str, tmp_path: Path
) -> None:
    with desk(sqlite_url, tmp_path) as d:
        number = d.card(d.person(), pin="2468")["number"]
        before = _trace(d)
        cfg = d.settings.model_copy(update={"ledger_maintenance_interval_s": 0})
        with TestClient(create_app(cfg)) as client:  # the lifespan runs the warm-up
            assert _trace(d) == before
            signed = client.post("/v1/me/login", json={"card_number": number, "pin": "2468"})
            assert signed.status_code == 200, signed.text
        assert _trace(d)[1] == before[1] + 1  # the citizen's own sign-in opened a session


def test_a_failed_warm_up_does_not_stop_the_service(tmp_path: Path) -> None:
    """A database not migrated yet: the warm-up's sign-in fails, the service starts anyway."""
    from card_service.config import Settings

    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    cfg = Settings(database_url=url, ledger_maintenance_interval_s=0)
    with TestClient(create_app(cfg)) as client:
        assert client.get("/healthz").status_code == 200
