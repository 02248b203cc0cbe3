"""The card application: answers command APDUs as docs/reference/card-protocol.md specifies."""

from __future__ import annotations

from collections.abc import Callable

from card_service.protocol.apdu import (
    AID,
    CLA_ISO,
    CLA_PROPRIETARY,
    MAX_COUNTER,
    SW,
    Apdu,
    CardState,
    Ins,
    SelectInfo,
    respond,
)
from card_service.protocol.errors import AuthenticationFailed, MacMismatch, MalformedInput
from card_service.protocol.session import CardChallenge, Session
from card_service.protocol.tap_record import TapRecord, TapRequest, tap_mac
from terminals.virtual_card.state import CardFile, CardStore


class Torn(Exception):
    """Raised by the tear hook: the card vanishes in the middle of an APDU."""


# Called at "before_commit" and "after_commit" of a TAP; raises ``Torn`` to tear there.
TearHook = Callable[[str], None]


def _no_tear(point: str) -> None:
    return None


class Applet:
    def __init__(self, store: CardStore, tear: TearHook = _no_tear) -> None:
        self.store = store
        self.card = store.load()
        self.tear = tear
        self.selected = False
        self.challenge: CardChallenge | None = None
        self.session: Session | None = None

    def reset(self) -> None:
        """Power cycle: forget selection and session (persistent state stays)."""
        self.selected = False
        self.challenge = None
        self.session = None

    def process(self, raw: bytes) -> bytes:
        try:
            apdu = Apdu.parse(raw)
        except MalformedInput:
            return respond(sw=SW.WRONG_LENGTH)
        if apdu.cla == CLA_ISO and apdu.ins == Ins.SELECT:
            return self._select(apdu)
        if not self.selected:
            return respond(sw=SW.CONDITIONS_NOT_SATISFIED)
        if apdu.cla != CLA_PROPRIETARY:
            return respond(sw=SW.CLA_NOT_SUPPORTED)
        handler = self._handlers().get(apdu.ins)
        if handler is None:
            return respond(sw=SW.INS_NOT_SUPPORTED)
        try:
            return handler(apdu)
        except MacMismatch:
            self.session = None
            return respond(sw=SW.SECURE_MESSAGING_INCORRECT)
        except MalformedInput:
            return respond(sw=SW.WRONG_DATA)

    def _handlers(self) -> dict[int, Callable[[Apdu], bytes]]:
        return {
            Ins.AUTH_FIRST: self._auth_first,
            Ins.AUTH_SECOND: self._auth_second,
            Ins.READ_CERTIFICATE: self._read_certificate,
            Ins.TAP: self._tap,
            Ins.GET_LAST_TAP: self._get_last_tap,
            Ins.PUT_KEY: self._put_key,
            Ins.PUT_CERTIFICATE: self._put_certificate,
            Ins.LOCK: self._lock,
        }

    def _select(self, apdu: Apdu) -> bytes:
        self.reset()
        if apdu.p1 != 0x04 or apdu.data != AID:
            return respond(sw=SW.APPLICATION_NOT_FOUND)
        self.selected = True
        c = self.card
        info = SelectInfo(bytes.fromhex(c.uid), CardState(c.state), c.key_version, c.counter)
        return respond(info.to_bytes())

    def _auth_first(self, apdu: Apdu) -> bytes:
        self.session = None
        self.challenge, encrypted = CardChallenge.start(bytes.fromhex(self.card.key))
        return respond(encrypted)

    def _auth_second(self, apdu: Apdu) -> bytes:
        challenge, self.challenge = self.challenge, None
        if challenge is None:
            return respond(sw=SW.CONDITIONS_NOT_SATISFIED)
        try:
            self.session, reply = challenge.finish(apdu.data)
        except AuthenticationFailed:
            return respond(sw=SW.AUTHENTICATION_FAILED)
        return respond(reply)

    def _read_certificate(self, apdu: Apdu) -> bytes:
        if self.session is None:
            return respond(sw=SW.SECURITY_STATUS_NOT_SATISFIED)
        if not self.card.certificate:
            return respond(sw=SW.REFERENCED_DATA_NOT_FOUND)
        return respond(bytes.fromhex(self.card.certificate))

    def _tap(self, apdu: Apdu) -> bytes:
        if self.session is None:
            return respond(sw=SW.SECURITY_STATUS_NOT_SATISFIED)
        if self.card.state != CardState.LOCKED:
            return respond(sw=SW.CONDITIONS_NOT_SATISFIED)
        request = TapRequest.parse(self.session.unwrap(Ins.TAP, apdu.data))
        if self.card.counter >= MAX_COUNTER:
            return respond(sw=SW.COUNTER_EXHAUSTED)
        self.tear("before_commit")
        record = TapRecord.of(request, self.card.counter + 1)
        mac = tap_mac(bytes.fromhex(self.card.key), record)
        self.card.counter = record.card_counter
        self.card.last_tap = (record.to_bytes() + mac).hex()
        self.store.save(self.card)
        self.tear("after_commit")
        return respond(record.card_counter.to_bytes(4, "big") + mac)

    def _get_last_tap(self, apdu: Apdu) -> bytes:
        if self.session is None:
            return respond(sw=SW.SECURITY_STATUS_NOT_SATISFIED)
        if not self.card.last_tap:
            return respond(sw=SW.REFERENCED_DATA_NOT_FOUND)
        return respond(bytes.fromhex(self.card.last_tap))

    def _personalising(self) -> Session | bytes:
        if self.session is None:
            return respond(sw=SW.SECURITY_STATUS_NOT_SATISFIED)
        if self.card.state == CardState.LOCKED:
            return respond(sw=SW.CONDITIONS_NOT_SATISFIED)
        return self.session

    def _put_key(self, apdu: Apdu) -> bytes:
        session = self._personalising()
        if isinstance(session, bytes):
            return session
        data = session.unwrap(Ins.PUT_KEY, apdu.data)
        if len(data) != 17 or data[0] == 0:
            return respond(sw=SW.WRONG_DATA)
        self.card.key = session.decrypt_previous(data[1:]).hex()
        self.card.key_version = data[0]
        self.card.state = CardState.PERSONALISED
        self.store.save(self.card)
        return respond()

    def _put_certificate(self, apdu: Apdu) -> bytes:
        session = self._personalising()
        if isinstance(session, bytes):
            return session
        data = session.unwrap(Ins.PUT_CERTIFICATE, apdu.data)
        if not data:
            return respond(sw=SW.WRONG_DATA)
        self.card.certificate = data.hex()
        self.store.save(self.card)
        return respond()

    def _lock(self, apdu: Apdu) -> bytes:
        session = self._personalising()
        if isinstance(session, bytes):
            return session
        session.unwrap(Ins.LOCK, apdu.data)
        if self.card.state != CardState.PERSONALISED or not self.card.certificate:
            return respond(sw=SW.CONDITIONS_NOT_SATISFIED)
        self.card.state = CardState.LOCKED
        self.store.save(self.card)
        return respond()


__all__ = ["Applet", "CardFile", "CardStore", "TearHook", "Torn"]
