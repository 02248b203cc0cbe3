"""Bills and fines over HTTP: look up by reference, pay once from the purse, receipts as PDF."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from card_service.db import transaction
from card_service.ledger import service as ledger
from card_service.ledger.schemas import TransferRequest
from tests.api.support import Desk, desk


def fund(d: Desk, holder_id: str, cents: int) -> None:
    """Money into a holder's purse, as a top-up would bring it."""
    with transaction(d.sessions()) as s:
        try:
            source = ledger.find_account(s, "test:funding").id
        except Exception:
            source = ledger.open_account(s, code="test:funding", kind="stripe_clearing").id
        purse = ledger.find_account(s, f"purse:{holder_id}").id
        ledger.create_transfer(s, TransferRequest(uuid.uuid4(), source, purse, cents, "topup"))


def bill(d: Desk, amount: int = 4250, **kw: Any) -> dict[str, Any]:
    body = {"issuer": "Empresa Municipal de Aguas", "concept": "Agua, 3.er trimestre",
            "amount_cents": amount, "due_date": "2026-12-31"} | kw  # fmt: skip
    r = d.as_("clerk", "POST", "/v1/bills", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_pay_a_bill_once_from_the_purse(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        card = d.card(holder)
        me = d.citizen(card["number"])
        fund(d, holder, 5000)
        b = bill(d)
        ref = b["reference"]
        assert ref.startswith("REC-") and b["status"] == "open"

        looked = d.client.get(f"/v1/me/bills/{ref.lower()}", headers=me).json()
        assert looked["amount_cents"] == 4250 and looked["status"] == "open"

        first = d.client.post(
            f"/v1/me/bills/{ref}/pay", headers=me, json={"client_id": "kiosk-1-a"}
        )
        assert first.status_code == 200, first.text
        paid = first.json()
        assert paid["replayed"] is False and paid["receipt"].startswith("R-")
        again = d.client.post(
            f"/v1/me/bills/{ref}/pay", headers=me, json={"client_id": "kiosk-1-a"}
        )
        assert again.json()["receipt"] == paid["receipt"] and again.json()["replayed"] is True
        other = d.client.post(
            f"/v1/me/bills/{ref}/pay", headers=me, json={"client_id": "kiosk-1-b"}
        )
        assert other.status_code == 409 and other.json()["code"] == "bill_already_paid"

        assert d.client.get("/v1/me/balance", headers=me).json()["balance_cents"] == 750
        moves = d.client.get("/v1/me/movements", headers=me).json()
        assert [m["code"] for m in moves] == ["bill", "topup"]
        assert moves[0]["amount_cents"] == -4250 and ref in moves[0]["user_data"]
        assert d.as_("clerk", "GET", f"/v1/bills/{ref}").json()["status"] == "paid"

        receipt = d.client.get(f"/v1/me/receipts/{paid['receipt']}.pdf", headers=me)
        assert receipt.headers["content-type"] == "application/pdf"
        text = pdf_text(receipt.content)
        assert ref in text and "42,50 EUR" in text and paid["receipt"] in text
        assert card["number"][-4:] in text


def test_bad_references_and_an_empty_purse(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        me = d.citizen(d.card(holder)["number"])
        missing = d.client.get("/v1/me/bills/REC-2026-NOPE99", headers=me)
        assert missing.status_code == 404 and missing.json()["code"] == "bill_not_found"
        r = d.client.post(
            "/v1/me/bills/REC-2026-NOPE99/pay", headers=me, json={"client_id": "c-000001"}
        )
        assert r.json()["code"] == "bill_not_found"

        ref = bill(d, amount=1200, kind="fine", reference="MUL-2026-TEST01")["reference"]
        assert ref == "MUL-2026-TEST01"
        fund(d, holder, 1000)
        poor = d.client.post(f"/v1/me/bills/{ref}/pay", headers=me, json={"client_id": "c-000002"})
        assert poor.status_code == 409 and poor.json()["code"] == "insufficient_balance"
        assert d.client.get("/v1/me/balance", headers=me).json()["balance_cents"] == 1000
        assert d.client.get(f"/v1/me/bills/{ref}", headers=me).json()["status"] == "open"
        fund(d, holder, 500)  # topped up: a new attempt (new client id) pays
        ok = d.client.post(f"/v1/me/bills/{ref}/pay", headers=me, json={"client_id": "c-000003"})
        assert ok.status_code == 200, ok.text
        assert d.client.get("/v1/me/balance", headers=me).json()["balance_cents"] == 300


def test_a_receipt_is_only_for_its_payer(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        payer = d.person()
        me = d.citizen(d.card(payer)["number"])
        other_holder = d.person(national_id="00000023T")
        other = d.citizen(d.card(other_holder, chip="04A1B2C3D4E5F7")["number"])
        fund(d, payer, 5000)
        ref = bill(d)["reference"]
        receipt = d.client.post(
            f"/v1/me/bills/{ref}/pay", headers=me, json={"client_id": "c-000004"}
        ).json()["receipt"]
        r = d.client.get(f"/v1/me/receipts/{receipt}.pdf", headers=other)
        assert r.status_code == 404 and r.json()["code"] == "receipt_not_found"
