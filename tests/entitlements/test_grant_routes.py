"""The desk grants a free fare on checked evidence; the same clerk cannot approve it (refused and
recorded); a second person can; the grant shows in the holder's history until and after revocation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.api.support import desk
from tests.charging.support import load_catalogue


def test_free_fare_grant_at_the_desk(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        load_catalogue(d.sessions())
        cats = d.as_("clerk", "GET", "/v1/entitlements/categories").json()
        assert {"code": "pension", "free": True} in cats
        assert {"code": "largefam_general", "free": False} in cats
        holder = d.person()
        ev = d.as_(
            "clerk",
            "POST",
            f"/v1/holders/{holder}/evidence",
            json={"doc_type": "pension_award", "number": "PNC 1234"},
        ).json()
        until = (datetime.now(UTC) + timedelta(days=365)).isoformat()
        body = {"category": "pension", "evidence_id": ev["id"], "valid_to": until}
        r = d.as_("auditor", "POST", f"/v1/holders/{holder}/grants", json=body)
        assert r.status_code == 403
        r = d.as_("clerk", "POST", f"/v1/holders/{holder}/grants", json=body)
        assert r.status_code == 201, r.text
        grant = r.json()
        assert (grant["status"], grant["needs_approval"], grant["granted_by"]) == (
            "pending",
            True,
            "clerk",
        )
        pending = d.as_("supervisor", "GET", "/v1/grants/pending").json()
        assert [g["id"] for g in pending] == [grant["id"]]
        own = d.as_("clerk", "POST", f"/v1/grants/{grant['id']}/approval")
        assert (own.status_code, own.json()["code"]) == (403, "grant_self_approval")
        denied = d.audit(action="grant.approve", outcome="denied")
        assert [(e["actor"], e["target"]) for e in denied] == [("clerk", f"grant:{grant['id']}")]
        ok = d.as_("supervisor", "POST", f"/v1/grants/{grant['id']}/approval")
        assert ok.status_code == 200 and ok.json()["status"] == "active"
        assert ok.json()["decided_by"] == "supervisor"
        missing = d.as_("clerk", "POST", "/v1/grants/999999/approval")
        assert (missing.status_code, missing.json()["code"]) == (404, "grant_not_found")
        r = d.as_(
            "clerk",
            "POST",
            f"/v1/grants/{grant['id']}/revocation",
            json={"reason": "pension withdrawn by the region"},
        )
        assert r.json()["status"] == "revoked"
        history = d.as_("clerk", "GET", f"/v1/holders/{holder}/grants").json()
        assert [(g["id"], g["status"], g["revoke_reason"]) for g in history] == [
            (grant["id"], "revoked", "pension withdrawn by the region")
        ]
        actions = [e["action"] for e in d.audit(target=f"holder:{holder}")]
        assert actions[:3] == ["grant.revoke", "grant.approve", "grant.create"]
