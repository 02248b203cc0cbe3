"""What terminals and the back office exchange over HTTP: tap uploads and signed snapshots.

Both sides import this module (terminals may import only card_service.protocol). Requests are
signed with HTTP Message Signatures (RFC 9421, Ed25519) by the terminal's own key, covering
``COVERED``; a snapshot is signed in its body by the city's issuing key (``SNAPSHOT_DOMAIN``).

A tap as uploaded (JSON): ``seq``, ``kind`` ("tap", or "void" for a sequence number that ended in no
tap), and for a tap ``uid`` (hex), ``key_version``, ``record`` (the 20-byte record the card MACed,
hex), ``mac`` (hex), ``holder_cents`` (= the record's amount: what the purse pays, as the card
MACed it), ``concession_cents`` and ``concession_category`` (what a concession budget pays),
``service``, ``product``, ``rule`` (the fee engine's rule id).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from card_service.protocol.errors import MalformedInput, SignatureInvalid, UnknownIssuerKey
from card_service.protocol.tap_record import RECORD_LEN, TAP_MAC_LEN, TapRecord

SIGNATURE_TAG = "citycard-terminal"
COVERED = ("@method", "@path", "content-digest")
TERMINAL_KINDS = ("bus_validator", "door_reader", "kiosk")
SNAPSHOT_DOMAIN = b"CITYCARD snapshot v1\n"
MAX_TAPS_PER_BATCH = 5000
_NAME_LEN = 32


def _int(raw: Mapping[str, Any], name: str, low: int = 0, high: int = 2**32 - 1) -> int:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MalformedInput(f"{name} must be an integer from {low} to {high}")
    return value


def _hex(raw: Mapping[str, Any], name: str, size: int | None = None) -> bytes:
    value = raw.get(name)
    try:
        data = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        data = None
    if data is None or (size is not None and len(data) != size) or not data:
        raise MalformedInput(f"{name} must be {size or 'some'} bytes in hex")
    return data


def _name(raw: Mapping[str, Any], name: str, optional: bool = False) -> str | None:
    value = raw.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= _NAME_LEN or not value.isprintable():
        raise MalformedInput(f"{name} must be a name of 1 to {_NAME_LEN} characters")
    return value


@dataclass(frozen=True, slots=True)
class WireTap:
    """One journaled tap as the terminal uploads it."""

    seq: int
    uid: bytes
    key_version: int
    record: TapRecord
    mac: bytes
    concession_cents: int
    concession_category: str | None
    service: str
    product: str
    rule: str

    @property
    def holder_cents(self) -> int:
        return self.record.amount_cents

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": "tap",
            "uid": self.uid.hex(),
            "key_version": self.key_version,
            "record": self.record.to_bytes().hex(),
            "mac": self.mac.hex(),
            "holder_cents": self.record.amount_cents,
            "concession_cents": self.concession_cents,
            "concession_category": self.concession_category,
            "service": self.service,
            "product": self.product,
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class VoidSeq:
    """A sequence number the terminal used for no tap (a TAP the card never counted)."""

    seq: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": "void", "reason": self.reason}


def parse_seq(raw: Any) -> int | None:
    """The sequence number of an uploaded item, or None when even that is unreadable."""
    if not isinstance(raw, dict):
        return None
    try:
        return _int(raw, "seq", 1)
    except MalformedInput:
        return None


def parse_item(raw: Any) -> WireTap | VoidSeq:
    """Parse one uploaded item; ``MalformedInput`` names what is wrong."""
    if not isinstance(raw, dict):
        raise MalformedInput("a tap is a JSON object")
    seq = _int(raw, "seq", 1)
    kind = raw.get("kind")
    if kind == "void":
        return VoidSeq(seq, _name(raw, "reason") or "")
    if kind != "tap":
        raise MalformedInput("kind must be tap or void")
    record = TapRecord.parse(_hex(raw, "record", RECORD_LEN))
    holder = _int(raw, "holder_cents")
    concession = _int(raw, "concession_cents")
    category = _name(raw, "concession_category", optional=True)
    if record.terminal_seq != seq:
        raise MalformedInput("seq differs from the record's sequence")
    if holder != record.amount_cents:
        raise MalformedInput("holder_cents differs from the amount the card MACed")
    if concession > 0 and category is None:
        raise MalformedInput("a concession needs its category")
    return WireTap(
        seq=seq,
        uid=_hex(raw, "uid"),
        key_version=_int(raw, "key_version", 0, 255),
        record=record,
        mac=_hex(raw, "mac", TAP_MAC_LEN),
        concession_cents=concession,
        concession_category=category if concession > 0 else None,
        service=_name(raw, "service") or "",
        product=_name(raw, "product") or "",
        rule=_name(raw, "rule") or "",
    )


def canonical(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign_snapshot(body: dict[str, Any], key_id: int, key: Ed25519PrivateKey) -> dict[str, Any]:
    """A snapshot document: the body, the issuing key id and an Ed25519 signature over both."""
    message = SNAPSHOT_DOMAIN + str(key_id).encode() + b"\n" + canonical(body)
    signature = base64.b64encode(key.sign(message)).decode()
    return {"key_id": key_id, "signature": signature, "body": body}


def verify_snapshot(doc: Any, issuer_keys: Mapping[int, Ed25519PublicKey]) -> dict[str, Any]:
    """The body of a snapshot document whose signature verifies under a trusted issuing key."""
    if not isinstance(doc, dict) or not isinstance(doc.get("body"), dict):
        raise MalformedInput("not a snapshot document")
    key_id = doc.get("key_id")
    key = issuer_keys.get(key_id) if isinstance(key_id, int) else None
    if key is None:
        raise UnknownIssuerKey(f"snapshot signed by unknown key {key_id!r}")
    try:
        signature = base64.b64decode(str(doc.get("signature")), validate=True)
        message = SNAPSHOT_DOMAIN + str(key_id).encode() + b"\n" + canonical(doc["body"])
        key.verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureInvalid("snapshot signature does not verify") from exc
    body: dict[str, Any] = doc["body"]
    return body
