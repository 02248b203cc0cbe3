"""The card application's identifiers, instructions and status words (docs/reference/card-protocol.md)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from card_service.protocol.errors import MalformedInput

# Proprietary (unregistered, "F" category) AID: F0 "CITYCARD" 01.
AID = bytes.fromhex("F0") + b"CITYCARD" + b"\x01"
# The system identifier that enters every key diversification.
SYSTEM_ID = b"CITYCARD"
UID_LEN = 7

CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80


class Ins(IntEnum):
    SELECT = 0xA4
    AUTH_FIRST = 0xAA
    AUTH_SECOND = 0xAF
    READ_CERTIFICATE = 0xB0
    TAP = 0x70
    GET_LAST_TAP = 0x72
    PUT_KEY = 0xD8
    PUT_CERTIFICATE = 0xDA
    LOCK = 0xDE


class SW(IntEnum):
    OK = 0x9000
    AUTHENTICATION_FAILED = 0x6300
    WRONG_LENGTH = 0x6700
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    CONDITIONS_NOT_SATISFIED = 0x6985
    SECURE_MESSAGING_INCORRECT = 0x6988
    WRONG_DATA = 0x6A80
    APPLICATION_NOT_FOUND = 0x6A82
    COUNTER_EXHAUSTED = 0x6A84
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


class CardState(IntEnum):
    BLANK = 0  # transport key (version 0) only, no certificate
    PERSONALISED = 1  # issuing key written, not yet locked
    LOCKED = 2  # in service: refuses PUT KEY and PUT CERTIFICATE


TRANSPORT_KEY_VERSION = 0
MAX_COUNTER = 0xFFFFFFFF


def command(
    cla: int, ins: int, p1: int = 0, p2: int = 0, data: bytes = b"", le: bool = True
) -> bytes:
    """A short APDU: CLA INS P1 P2 [Lc data] [Le=00]."""
    if len(data) > 255:
        raise MalformedInput("short APDU data is at most 255 bytes")
    apdu = bytes([cla, ins, p1, p2])
    if data:
        apdu += bytes([len(data)]) + data
    if le:
        apdu += b"\x00"
    return apdu


def select_command() -> bytes:
    return command(CLA_ISO, Ins.SELECT, 0x04, 0x00, AID)


def proprietary(ins: Ins, data: bytes = b"", p1: int = 0, p2: int = 0) -> bytes:
    return command(CLA_PROPRIETARY, ins, p1, p2, data)


@dataclass(frozen=True)
class Apdu:
    """A parsed command APDU (short form only)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Apdu:
        if len(raw) < 4:
            raise MalformedInput("APDU shorter than its header")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if len(body) <= 1:  # case 1 or case 2 (Le only)
            return cls(cla, ins, p1, p2, b"")
        lc = body[0]
        if lc == 0 or len(body) not in (1 + lc, 2 + lc):
            raise MalformedInput("Lc does not match the APDU length")
        return cls(cla, ins, p1, p2, body[1 : 1 + lc])


def split_response(rapdu: bytes) -> tuple[bytes, int]:
    """R-APDU -> (data, status word)."""
    if len(rapdu) < 2:
        raise MalformedInput("response shorter than a status word")
    return rapdu[:-2], (rapdu[-2] << 8) | rapdu[-1]


def respond(data: bytes = b"", sw: int = SW.OK) -> bytes:
    return data + sw.to_bytes(2, "big")


@dataclass(frozen=True)
class SelectInfo:
    """What SELECT returns: format 1, UID, state, key version, counter (14 bytes)."""

    uid: bytes
    state: CardState
    key_version: int
    counter: int

    _FMT = struct.Struct(">B7sBBI")

    def to_bytes(self) -> bytes:
        return self._FMT.pack(1, self.uid, self.state, self.key_version, self.counter)

    @classmethod
    def parse(cls, data: bytes) -> SelectInfo:
        if len(data) != cls._FMT.size or data[0] != 1:
            raise MalformedInput("SELECT response is not format 1")
        _, uid, state, version, counter = cls._FMT.unpack(data)
        try:
            card_state = CardState(state)
        except ValueError as exc:
            raise MalformedInput(f"unknown card state {state}") from exc
        return cls(uid, card_state, version, counter)
