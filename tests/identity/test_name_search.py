"""A clerk finds holders by name through the blind index: accents, case and order ignored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from card_service.db import transaction
from card_service.identity import names
from card_service.identity.crypto import keyring_for
from card_service.identity.models import HolderNameWord
from tests.api.support import desk


def _search(d: Any, text: str, who: str = "clerk") -> list[dict[str, Any]]:
    r = d.as_(who, "POST", "/v1/holders/search", json={"name": text})
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()
    return result


def test_name_words_normalise() -> None:
    assert names.name_words("José  de la PEÑA-Álvarez y Suárez") == [
        "jose",
        "pena",
        "alvarez",
        "suarez",
    ]
    assert names.name_words("de la") == []


def test_find_by_name(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        cova = d.person()  # Covadonga Menéndez Suárez, born 1954
        number = d.card(cova)["number"]
        pelayo = d.person(
            given_names="Pelayo", surnames="Menéndez de la Fuente", national_id="00000001R",
            date_of_birth="1988-07-01",
        )  # fmt: skip

        found = _search(d, "menendez")
        assert {m["holder_id"] for m in found} == {cova, pelayo}
        only = _search(d, "SUAREZ covadonga")  # order and case ignored, every word must match
        assert only == [
            {
                "holder_id": cova,
                "kind": "person",
                "name": "Covadonga Menéndez Suárez",
                "birth_year": 1954,
                "card": number,
            }
        ]
        assert [m["holder_id"] for m in _search(d, "Fuente Menéndez", who="supervisor")] == [pelayo]
        assert _search(d, "Menéndez Gonzalez") == []  # a word nobody has
        assert _search(d, "de la") == []  # only particles: nothing to look for
        assert _search(d, "Covadong") == []  # whole words only

        # Audited per holder shown, with the clerk; the words typed are not recorded.
        shown = d.audit(target=f"holder:{cova}", action="holder.search")
        assert [(e["actor"], e["reason"]) for e in shown] == [("clerk", "by name")] * 2
        assert not any("covadonga" in (e["reason"] or "").lower() for e in d.audit())
        assert d.audit(target="holders", action="holder.search")[0]["reason"] == (
            "by name: no match"
        )


def test_search_is_staff_only(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        me = d.citizen(d.card(holder)["number"])
        as_citizen = d.client.post("/v1/holders/search", json={"name": "Covadonga"}, headers=me)
        assert as_citizen.status_code == 403
        assert d.client.post("/v1/holders/search", json={"name": "Covadonga"}).status_code == 401
        for role in ("auditor", "finance", "admin"):
            r = d.as_(role, "POST", "/v1/holders/search", json={"name": "Covadonga"})
            assert r.status_code == 403, role
        assert d.audit(action="holder.search") == []


def test_erasure_removes_the_name_words(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        assert [m["holder_id"] for m in _search(d, "covadonga")] == [holder]
        done = d.as_(
            "supervisor", "POST", f"/v1/holders/{holder}/erasure", json={"reason": "GDPR 17 req"}
        )
        assert done.status_code == 204, done.text
        assert _search(d, "covadonga") == []
        with transaction(d.sessions()) as s:
            assert s.scalar(select(func.count()).select_from(HolderNameWord)) == 0


def test_reindex_backfills(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        with transaction(d.sessions()) as s:
            s.query(HolderNameWord).delete()
        assert _search(d, "covadonga") == []
        ring = keyring_for(d.settings.pii_keyring, d.settings.pii_keyring_path)
        with transaction(d.sessions()) as s:
            assert names.reindex_batch(s, ring, 0, 500) is not None
        assert [m["holder_id"] for m in _search(d, "Menendez")] == [holder]
