"""Our card's commands, from the terminal side, with each status word mapped to a named error."""

from __future__ import annotations

from card_service.protocol.apdu import (
    SW,
    Ins,
    SelectInfo,
    proprietary,
    select_command,
    split_response,
)
from card_service.protocol.errors import AuthenticationFailed, MalformedInput
from card_service.protocol.session import Session, TerminalChallenge
from card_service.protocol.tap_record import RECORD_LEN, TAP_MAC_LEN, TapRecord, TapRequest
from terminals.pcsc.channel import Channel
from terminals.pcsc.errors import CardRefused, CardRemoved, TransactionTorn, UnknownCard


class CardClient:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.session: Session | None = None

    def _send(self, apdu: bytes, what: str) -> bytes:
        try:
            data, sw = split_response(self.channel.transmit(apdu))
        except MalformedInput as exc:
            raise UnknownCard(f"{what}: malformed response") from exc
        if sw == SW.OK:
            return data
        if sw == SW.AUTHENTICATION_FAILED:
            raise AuthenticationFailed(f"{what}: card refused authentication")
        raise CardRefused(f"{what}: status {sw:04X}", sw)

    def select(self) -> SelectInfo:
        try:
            data = self._send(select_command(), "select")
            return SelectInfo.parse(data)
        except CardRefused as exc:
            raise UnknownCard(f"no city card application (status {exc.sw:04X})") from exc
        except MalformedInput as exc:
            raise UnknownCard("select answer is not ours") from exc

    def authenticate(self, key: bytes) -> Session:
        challenge_data = self._send(proprietary(Ins.AUTH_FIRST), "authenticate")
        try:
            challenge, answer = TerminalChallenge.answer(key, challenge_data)
        except MalformedInput as exc:
            raise UnknownCard("authentication challenge is malformed") from exc
        try:
            reply = self._send(proprietary(Ins.AUTH_SECOND, answer), "authenticate")
        except CardRefused as exc:
            raise AuthenticationFailed(f"card refused our answer ({exc.sw:04X})") from exc
        self.session = challenge.finish(reply)
        return self.session

    def _session(self) -> Session:
        if self.session is None:
            raise AuthenticationFailed("not authenticated")
        return self.session

    def read_certificate(self) -> bytes:
        return self._send(proprietary(Ins.READ_CERTIFICATE), "read certificate")

    def tap(self, request: TapRequest) -> tuple[int, bytes]:
        """Ask the card to count and MAC a tap. Losing the card here is ``TransactionTorn``."""
        payload = self._session().wrap(Ins.TAP, request.to_bytes())
        try:
            data = self._send(proprietary(Ins.TAP, payload), "tap")
        except CardRemoved as exc:
            raise TransactionTorn("card vanished during TAP: outcome unknown") from exc
        if len(data) != 4 + TAP_MAC_LEN:
            raise TransactionTorn("TAP answer malformed: outcome unknown")
        return int.from_bytes(data[:4], "big"), data[4:]

    def last_tap(self) -> tuple[TapRecord, bytes] | None:
        try:
            data = self._send(proprietary(Ins.GET_LAST_TAP), "get last tap")
        except CardRefused as exc:
            if exc.sw == SW.REFERENCED_DATA_NOT_FOUND:
                return None
            raise
        if len(data) != RECORD_LEN + TAP_MAC_LEN:
            raise UnknownCard("last tap malformed")
        return TapRecord.parse(data[:RECORD_LEN]), data[RECORD_LEN:]

    def put_key(self, version: int, key: bytes) -> None:
        session = self._session()
        payload = session.wrap(Ins.PUT_KEY, bytes([version]) + session.encrypt(key))
        self._send(proprietary(Ins.PUT_KEY, payload), "put key")

    def put_certificate(self, certificate: bytes) -> None:
        payload = self._session().wrap(Ins.PUT_CERTIFICATE, certificate)
        self._send(proprietary(Ins.PUT_CERTIFICATE, payload), "put certificate")

    def lock(self) -> None:
        payload = self._session().wrap(Ins.LOCK, b"")
        self._send(proprietary(Ins.LOCK, payload), "lock")
