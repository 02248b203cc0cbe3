"""A clerk registers holders; personal data is encrypted at rest and every read is audited."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from card_service.audit.models import AuditEvent
from card_service.db import transaction
from card_service.identity.models import Holder
from tests.api.support import PERSON, desk


def _counts(d) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with transaction(d.sessions()) as s:
        return (
            s.scalar(select(func.count()).select_from(Holder)) or 0,
            s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def test_register_read_lookup_update(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        read = d.as_("clerk", "GET", f"/v1/holders/{holder}").json()
        assert read["personal"]["given_names"] == "Covadonga"
        assert read["personal"]["national_id"] == "12345678Z"
        found = d.as_(
            "supervisor", "POST", "/v1/holders/lookup", json={"national_id": "12345678-z"}
        )
        assert found.json()["holder_id"] == holder
        missing = d.as_("clerk", "POST", "/v1/holders/lookup", json={"national_id": "87654321X"})
        assert missing.status_code == 404 and missing.json()["code"] == "holder_not_found"
        changed = d.as_(
            "clerk",
            "PATCH",
            f"/v1/holders/{holder}",
            json={"address": {"street": "Calle Uría 3", "postcode": "33202"}},
        )
        assert changed.json()["personal"]["address"]["street"] == "Calle Uría 3"
        assert changed.json()["personal"]["surnames"] == PERSON["surnames"]
        reads = d.audit(target=f"holder:{holder}", action="holder.read")
        assert [(e["actor"], e["role"]) for e in reads] == [
            ("supervisor", "supervisor"),
            ("clerk", "clerk"),
        ]
        assert reads[0]["reason"] == "lookup by national id"

        org = d.as_(
            "clerk",
            "POST",
            "/v1/holders/organisations",
            json={
                "legal_name": "Talleres del Piles SL",
                "national_id": "B12345674",
                "address": {"street": "Poligono de Roces 5", "postcode": "33211"},
            },
        )
        assert org.status_code == 201 and org.json()["kind"] == "organisation"


def test_nothing_personal_is_stored_in_clear(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        holder = d.person()
        assert d.as_("clerk", "GET", f"/v1/holders/{holder}").json()["personal"]["surnames"]
    raw = Path(sqlite_url.removeprefix("sqlite:///"))
    blob = b"".join(p.read_bytes() for p in raw.parent.glob(raw.name + "*"))
    assert holder.encode() in blob  # the pseudonym is there in clear: the file is readable
    for clear in (
        "Covadonga",
        "Menéndez",
        "12345678Z",
        "1954-03-08",
        "Calle Corrida",
        "cova@example.org",
    ):
        assert clear.encode() not in blob, clear


def test_bad_national_id_and_duplicates_write_nothing(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        d.person()
        before = _counts(d)
        wrong = d.as_(
            "clerk", "POST", "/v1/holders/persons", json=PERSON | {"national_id": "12345678A"}
        )
        assert wrong.status_code == 422 and wrong.json()["code"] == "national_id_invalid"
        twice = d.as_(
            "clerk",
            "POST",
            "/v1/holders/persons",
            json=PERSON | {"national_id": " 12345678z", "given_names": "Other"},
        )
        assert twice.status_code == 409 and twice.json()["code"] == "holder_already_exists"
        assert _counts(d) == before
        # An auditor or an admin may not register anyone: refused and recorded.
        refused = d.as_(
            "admin", "POST", "/v1/holders/persons", json=PERSON | {"national_id": "00000000T"}
        )
        assert refused.status_code == 403
        assert d.audit(actor="admin", outcome="denied")[0]["target"] == "/v1/holders/persons"
