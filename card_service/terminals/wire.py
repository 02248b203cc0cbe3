"""Uploaded taps parsed for settlement, cheaply: one type check per field, no dataclass per field.

``parse`` accepts a tap here only when every field is exactly well formed (the conditions of
``protocol.terminal_wire.parse_item``, checked in one expression); anything else goes to
``parse_item``, which either accepts it (an int subclass, say) or raises ``MalformedInput`` naming
what is wrong. So the named answers to malformed taps are those of the protocol's own parser.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from card_service.protocol.terminal_wire import VoidSeq, WireTap, parse_item
from card_service.terminals.errors import BatchMalformed

_RECORD = struct.Struct(">IIIII")
_U32 = 2**32 - 1
_NAME_LEN = 32


def batch_items(body: bytes, max_batch: int) -> list[Any]:
    """The items of an uploaded batch ``{"taps": [...]}``, or BatchMalformed (the whole batch)."""
    try:
        doc: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BatchMalformed("the body is not JSON") from exc
    items = doc.get("taps") if isinstance(doc, dict) else None
    if not isinstance(items, list) or len(items) > max_batch:
        raise BatchMalformed(f"send {{'taps': [...]}} with at most {max_batch}")
    return items


class Tap:
    """One uploaded tap, its record unpacked (terminal id, sequence, time, amount, counter)."""

    __slots__ = (
        "concession_category", "concession_cents", "counter", "holder_cents", "key_version", "mac",
        "product", "record", "rule", "seq", "service", "terminal_id", "time", "uid",
    )  # fmt: skip

    def __init__(
        self,
        seq: int,
        uid: bytes,
        key_version: int,
        record: bytes,
        mac: bytes,
        concession_cents: int,
        concession_category: str | None,
        service: str,
        product: str,
        rule: str,
    ) -> None:
        self.seq = seq
        self.uid = uid
        self.key_version = key_version
        self.record = record
        self.mac = mac
        self.terminal_id, _, self.time, self.holder_cents, self.counter = _RECORD.unpack(record)
        self.concession_cents = concession_cents
        self.concession_category = concession_category
        self.service = service
        self.product = product
        self.rule = rule

    @classmethod
    def of(cls, w: WireTap) -> Tap:
        return cls(w.seq, w.uid, w.key_version, w.record.to_bytes(), w.mac, w.concession_cents,
                   w.concession_category, w.service, w.product, w.rule)  # fmt: skip


def _name(value: Any) -> bool:
    return type(value) is str and 0 < len(value) <= _NAME_LEN and value.isprintable()


def parse(raw: Any) -> Tap | VoidSeq:
    """Parse one uploaded item; ``MalformedInput`` names what is wrong."""
    if type(raw) is dict and raw.get("kind") == "tap":
        try:
            seq, holder = raw["seq"], raw["holder_cents"]
            concession, version = raw["concession_cents"], raw["key_version"]
            category = raw.get("concession_category")
            service, product, rule = raw["service"], raw["product"], raw["rule"]
            if (
                type(seq) is int and type(holder) is int and type(concession) is int
                and type(version) is int and 0 < seq <= _U32 and 0 <= holder <= _U32
                and 0 <= concession <= _U32 and 0 <= version <= 255
                and type(service) is str and 0 < len(service) <= _NAME_LEN
                and type(product) is str and 0 < len(product) <= _NAME_LEN
                and type(rule) is str and 0 < len(rule) <= _NAME_LEN
                and (service + product + rule).isprintable()
                and (_name(category) if concession > 0 else category is None or _name(category))
            ):  # fmt: skip
                record = bytes.fromhex(raw["record"])
                mac = bytes.fromhex(raw["mac"])
                uid = bytes.fromhex(raw["uid"])
                if len(record) == 20 and len(mac) == 8 and uid:
                    tap = Tap(seq, uid, version, record, mac, concession,
                              category if concession > 0 else None, service, product, rule)  # fmt: skip
                    if record[4:8] == seq.to_bytes(4, "big") and tap.holder_cents == holder:
                        return tap
        except (KeyError, TypeError, ValueError):
            pass
    parsed = parse_item(raw)
    return Tap.of(parsed) if isinstance(parsed, WireTap) else parsed
