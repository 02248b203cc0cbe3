"""A citizen registers a phone; its QR token passes a validator offline, once."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from card_service.cards.issuing import ISSUING_KEY_ID, keystore_for
from card_service.db import transaction
from card_service.me.models import MobileDevice
from card_service.protocol.errors import ProtocolError
from card_service.protocol.mobile import TokenVerifier, raw_public_key, sign_token
from tests.api.support import desk


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_registered_phone_gets_a_credential_whose_token_works_once(db_url: str, tmp_path: Path):
    with desk(db_url, tmp_path, keystore_path=tmp_path / "keystore.json") as d:
        number = d.card(d.person())["number"]
        me = d.citizen(number)
        phone = Ed25519PrivateKey.generate()
        r = d.client.post(
            "/v1/me/devices",
            headers=me,
            json={"public_key": b64(raw_public_key(phone.public_key()))},
        )
        assert r.status_code == 201, r.text
        credential = base64.urlsafe_b64decode(r.json()["credential"] + "==")

        city = keystore_for(d.settings).issuer_key(ISSUING_KEY_ID).public_key()
        validator = TokenVerifier({ISSUING_KEY_ID: city}, clock=time.time)
        token = sign_token(phone, credential, time.time())
        accepted = validator.verify(token)
        assert accepted.credential.device_key == raw_public_key(phone.public_key())
        try:
            validator.verify(token)
            raise AssertionError("the same token was accepted twice")
        except ProtocolError as refused:
            assert refused.code == "token_replayed"

        # A stranger's key cannot ride on this credential.
        stranger = Ed25519PrivateKey.generate()
        try:
            validator.verify(sign_token(stranger, credential, time.time() + 30))
            raise AssertionError("a token signed by another key was accepted")
        except ProtocolError as refused:
            assert refused.code == "signature_invalid"

        assert [e["action"] for e in d.audit(action="device.register")] == ["device.register"]


def test_a_malformed_or_taken_device_key_is_refused_and_nothing_written(
    db_url: str, tmp_path: Path
):
    with desk(db_url, tmp_path, keystore_path=tmp_path / "keystore.json") as d:
        first = d.citizen(d.card(d.person())["number"])
        second = d.citizen(
            d.card(d.person(national_id="00000000T"), chip="04FFEEDDCCBBAA")["number"]
        )
        for bad in ("not base64!!", b64(b"\x01" * 31)):
            r = d.client.post("/v1/me/devices", headers=first, json={"public_key": bad})
            assert (r.status_code, r.json()["code"]) == (422, "device_key_invalid")
        key = b64(raw_public_key(Ed25519PrivateKey.generate().public_key()))
        assert (
            d.client.post("/v1/me/devices", headers=first, json={"public_key": key}).status_code
            == 201
        )
        taken = d.client.post("/v1/me/devices", headers=second, json={"public_key": key})
        assert (taken.status_code, taken.json()["code"]) == (409, "device_key_taken")
        with transaction(d.sessions()) as s:
            assert s.scalar(select(func.count()).select_from(MobileDevice)) == 1
