"""Erasure by crypto-shredding, and master-key rotation while holders stay readable."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from sqlalchemy import select

from card_service.audit.schemas import Actor
from card_service.audit.service import verify as audit_verify
from card_service.cards.service import purse_code
from card_service.db import transaction
from card_service.identity import rotation
from card_service.identity import service as holders
from card_service.identity.crypto import keyring_for
from card_service.identity.models import DataKey
from card_service.identity.schemas import PersonIn
from card_service.ledger.schemas import TransferRequest
from card_service.ledger.seal import seal
from card_service.ledger.service import balance, create_transfer, find_account, open_account
from card_service.ledger.verify import verify as ledger_verify
from card_service.staff.roles import Role
from tests.api.support import PERSON, desk


def test_erasure_shreds_the_key_and_keeps_the_ledger(db_url: str, tmp_path: Path) -> None:
    with desk(db_url, tmp_path) as d:
        holder = d.person()
        number = d.card(holder)["number"]
        me = d.citizen(number)
        with transaction(d.sessions()) as s:
            cash = open_account(s, code="kiosk_cash:test", kind="kiosk_cash")
            purse = find_account(s, purse_code(holder))
            create_transfer(s, TransferRequest(uuid.uuid4(), cash.id, purse.id, 700, "topup"))

        clerk = d.as_("clerk", "POST", f"/v1/holders/{holder}/erasure", json={"reason": "GDPR 17"})
        assert clerk.status_code == 403
        done = d.as_(
            "supervisor",
            "POST",
            f"/v1/holders/{holder}/erasure",
            json={"reason": "lawful request 2026/118"},
        )
        assert done.status_code == 204, done.text

        gone = d.as_("clerk", "GET", f"/v1/holders/{holder}")
        assert gone.status_code == 410 and gone.json()["code"] == "holder_erased"
        assert d.as_("clerk", "GET", f"/v1/cards/{number}").json()["status"] == "revoked"
        assert d.client.get("/v1/me/balance", headers=me).json()["code"] == "session_expired"
        # The same person may register again: the national id hash went with the data.
        assert d.as_("clerk", "POST", "/v1/holders/persons", json=PERSON).status_code == 201
        with transaction(d.sessions()) as s:
            assert s.get(DataKey, holders.get(s, holder).id) is None
            assert balance(s, purse.id).balance_cents == 700  # money stays, under the pseudonym
            seal(s)
        with transaction(d.sessions()) as s:
            assert ledger_verify(s).ok
            assert audit_verify(s).ok
        erased = d.audit(target=f"holder:{holder}", action="holder.erase")
        assert erased[0]["actor"] == "supervisor" and erased[0]["reason"].startswith("lawful")


def test_rotation_reencrypts_in_batches_while_readable(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path, staff=False) as d:
        d.add_staff("clerk", Role.CLERK)
        ring = keyring_for(None, d.settings.pii_keyring_path)
        actor = Actor("staff", "clerk", "clerk", staff_id=1)
        ids = []
        with transaction(d.sessions()) as s:
            for n in range(5):
                nid = f"{n:08d}" + "TRWAGMYFPDXBNJZSQVHLCKE"[n % 23]
                h = holders.create_person(
                    s,
                    ring,
                    actor,
                    PersonIn.model_validate(
                        PERSON | {"national_id": nid, "given_names": f"Person {n}"}
                    ),
                )
                ids.append(h.pseudonym)
        old = ring.current
        ring.add_master_key()
        with transaction(d.sessions()) as s:
            assert rotation.rotate_batch(s, ring, batch_size=2) == 2
        # Half-way: every holder opens, under whichever key wraps it; so does staff sign-in.
        with transaction(d.sessions()) as s:
            masters = {
                s.scalars(
                    select(DataKey.master_key_id).where(DataKey.holder_id == holders.get(s, p).id)
                ).one()
                for p in ids
            }
            assert masters == {old, ring.current}
            names = [
                holders.personal_fields(s, ring, holders.get(s, p))["given_names"] for p in ids
            ]
        assert names == [f"Person {n}" for n in range(5)]
        assert d.as_("clerk", "GET", f"/v1/holders/{ids[0]}").json()["personal"]["given_names"] == (
            "Person 0"
        )

        done = rotation.rotate(d.sessions(), ring, batch_size=2, new_master_key=False)
        assert done == 3
        assert rotation.retire_unused(d.sessions(), ring) == [old]
        stored = json.loads(d.settings.pii_keyring_path.read_text())
        assert list(stored["master_keys"]) == [ring.current]
        # The service reloads the keyring file: every holder and staff sign-in still works.
        for n, p in enumerate(ids):
            assert d.as_("clerk", "GET", f"/v1/holders/{p}").json()["personal"]["given_names"] == (
                f"Person {n}"
            )
        d.add_staff("clerk2", Role.CLERK)
        with transaction(d.sessions()) as s:
            assert audit_verify(s).ok
