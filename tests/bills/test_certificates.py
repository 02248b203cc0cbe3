"""Residence certificates: issued to registered residents as a PDF with a code anyone verifies."""

from __future__ import annotations

from pathlib import Path

from card_service.certificates.models import ResidenceCertificate
from card_service.db import transaction
from tests.api.support import desk
from tests.bills.test_bills import pdf_text


def test_issue_and_verify(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        me = d.citizen(d.card(holder)["number"])
        r = d.client.post(
            "/v1/me/certificates/residence", headers=me, json={"client_id": "cert-0001"}
        )
        assert r.status_code == 201, r.text
        cert = r.json()
        again = d.client.post(
            "/v1/me/certificates/residence", headers=me, json={"client_id": "cert-0001"}
        )
        assert again.json() == cert  # the same client id: the same certificate

        pdf = d.client.get(f"/v1/me/certificates/{cert['serial']}.pdf", headers=me)
        text = pdf_text(pdf.content)
        assert cert["code"] in text and "Covadonga" in text and "Calle Corrida 1" in text
        assert "12345678Z" not in text and "*****678Z" in text  # the national id is masked

        public = d.client.get("/v1/certificates/verify", params={"code": cert["code"].lower()})
        assert public.status_code == 200, public.text
        found = public.json()
        assert found["valid"] is True and found["serial"] == cert["serial"]
        assert found["holder_name"] == "Covadonga Menéndez Suárez"

        wrong = cert["code"][:-1] + ("A" if cert["code"][-1] != "A" else "B")
        r = d.client.get("/v1/certificates/verify", params={"code": wrong})
        assert r.status_code == 404 and r.json()["code"] == "certificate_not_found"


def test_a_row_whose_code_was_edited_does_not_verify(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        me = d.citizen(d.card(d.person())["number"])
        cert = d.client.post(
            "/v1/me/certificates/residence", headers=me, json={"client_id": "cert-0002"}
        ).json()
        forged = "AAAABBBBCCCCDDDD"
        with transaction(d.sessions()) as s:
            row = s.query(ResidenceCertificate).filter_by(serial=cert["serial"]).one()
            row.code = forged
        r = d.client.get("/v1/certificates/verify", params={"code": forged})
        assert r.status_code == 404


def test_only_registered_residents(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person(residence_status="not_registered")
        me = d.citizen(d.card(holder)["number"])
        r = d.client.post(
            "/v1/me/certificates/residence", headers=me, json={"client_id": "cert-0003"}
        )
        assert r.status_code == 409 and r.json()["code"] == "not_resident"
