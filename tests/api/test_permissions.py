"""Every route, called as every role, answers as docs/reference/permissions.md says."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from card_service.api.permissions import AUDIENCES, markdown, table
from card_service.cards.models import Card
from card_service.db import transaction
from card_service.staff.models import StaffAccount
from card_service.staff.sessions import open_session
from tests.api.support import desk

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "permissions.md"


def test_reference_is_generated_from_the_code() -> None:
    assert DOC.read_text() == markdown(), (
        "run: card-service staff permissions --write docs/reference/permissions.md"
    )


def test_every_route_as_every_role(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        holder = d.person()
        number = d.card(holder)["number"]

        def token(audience: str) -> str | None:
            """A fresh session per call, so that one call (logout) cannot spoil the next."""
            if audience == "anonymous":
                return None
            with transaction(d.sessions()) as s:
                if audience == "citizen":
                    card_id = s.scalars(select(Card.id).where(Card.number == number)).one()
                    return open_session(s, kind="citizen", minutes=5, card_id=card_id).token
                staff_id = s.scalars(
                    select(StaffAccount.id).where(StaffAccount.username == audience)
                ).one()
                return open_session(s, kind="staff", minutes=5, staff_id=staff_id).token

        values = {"holder_id": holder, "number": number, "username": "clerk"}
        mismatches, refusals = [], 0
        rows = table()
        assert len(rows) >= 30
        for row in rows:
            path = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), row.path)
            for audience in (*AUDIENCES, "anonymous"):
                t = token(audience)
                headers = {"Authorization": f"Bearer {t}"} if t else {}
                body = {} if row.method in ("POST", "PATCH", "PUT") else None
                r = d.client.request(row.method, path, headers=headers, json=body)
                if row.public:
                    ok = r.status_code not in (401, 403)
                elif audience == "anonymous":
                    ok = r.status_code == 401 and r.json()["code"] == "authentication_required"
                elif audience in row.allowed:
                    ok = r.status_code not in (401, 403)
                else:
                    ok = r.status_code == 403 and r.json()["code"] == "forbidden"
                    refusals += 1
                if not ok:
                    mismatches.append((row.method, row.path, audience, r.status_code, r.text[:80]))
        assert mismatches == []
        denied = d.audit(outcome="denied", limit=500)
        assert len(denied) == refusals  # every refusal left its record
