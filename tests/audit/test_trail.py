"""The audit trail is append-only, hash-chained, searchable by auditors, and verify finds edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.cli import app
from card_service.db import transaction
from tests.api.support import desk


def test_search_and_verify_over_http(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        r = d.client.get(
            f"/v1/holders/{holder}", headers=d.headers("clerk") | {"X-Request-ID": "req-42"}
        )
        assert r.headers["X-Request-ID"] == "req-42"
        event = d.audit(action="holder.read")[0]
        assert (event["actor"], event["role"], event["target"], event["request_id"]) == (
            "clerk",
            "clerk",
            f"holder:{holder}",
            "req-42",
        )
        page = d.audit(limit=2)
        older = d.audit(limit=2, before_position=page[-1]["position"])
        assert [e["position"] for e in page + older] == sorted(
            (e["position"] for e in page + older), reverse=True
        )
        assert d.as_("auditor", "GET", "/v1/audit/verify").json()["ok"] is True
        # The clerk may not read the trail.
        assert d.as_("clerk", "GET", "/v1/audit/events").status_code == 403


def test_rows_cannot_be_changed_or_removed(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path, staff=False) as d, transaction(d.sessions()) as s:
        audit.record(s, Actor.system("test"), "test.event", "x")
    for statement in ("UPDATE audit_events SET reason = 'edited'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append_only"), transaction(d.sessions()) as s:
            s.execute(text(statement))


def test_verify_finds_the_first_edited_event(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with desk(sqlite_url, tmp_path, staff=False) as d:
        with transaction(d.sessions()) as s:
            for n in range(5):
                audit.record(s, Actor.system("test"), "test.event", f"t{n}")
        monkeypatch.setenv("CARD_SERVICE_DATABASE_URL", sqlite_url)
        from card_service.config import get_settings

        get_settings.cache_clear()
        runner = CliRunner()
        ok = runner.invoke(app, ["audit", "verify"])
        assert ok.exit_code == 0 and "5 events" in ok.output
        with transaction(d.sessions()) as s:  # someone with the file bypasses the triggers
            s.execute(text("DROP TRIGGER audit_events_no_update"))
            s.execute(text("UPDATE audit_events SET target = 'elsewhere' WHERE position = 3"))
        with transaction(d.sessions()) as s:
            report = audit.verify(s)
        assert not report.ok and report.first_bad_position == 3
        broken = runner.invoke(app, ["audit", "verify"])
        assert broken.exit_code == 1
        get_settings.cache_clear()
