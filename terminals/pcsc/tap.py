"""One tap, terminal side: select, authenticate, read and check the certificate, TAP with MAC.

Every way a tap can go wrong ends in a ``TapOutcome`` with a named ``code``; nothing raises out of
``TapTerminal.present``. A charge (``charged``) always carries a record whose MAC verified.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from card_service.protocol.apdu import AID, SYSTEM_ID, CardState
from card_service.protocol.certificate import HolderCertificate
from card_service.protocol.diversify import card_key
from card_service.protocol.errors import ProtocolError
from card_service.protocol.keystore import Keystore
from card_service.protocol.tap_record import TapRecord, TapRequest, verify_tap_mac
from terminals.pcsc.card_client import CardClient
from terminals.pcsc.channel import Channel
from terminals.pcsc.errors import CardIoError, TransactionTorn
from terminals.pcsc.pending import PendingTap, PendingTaps, SettledTap, Settlement

Fare = Callable[[HolderCertificate], int]


@dataclass
class TapOutcome:
    code: str
    uid: bytes | None = None
    key_version: int | None = None
    certificate: HolderCertificate | None = None
    record: TapRecord | None = None
    mac: bytes | None = None
    settled: list[SettledTap] = field(default_factory=list)
    detail: str = ""

    @property
    def charged(self) -> bool:
        return self.code in ("charged", "already_charged")


class TapTerminal:
    def __init__(
        self,
        keys: Keystore,
        issuer_keys: Mapping[int, Ed25519PublicKey],
        terminal_id: int,
        clock: Callable[[], float],
        fare: Fare,
        pending: PendingTaps | None = None,
        retap_grace_s: int = 60,
    ) -> None:
        self.keys = keys
        self.issuer_keys = issuer_keys
        self.terminal_id = terminal_id
        self.clock = clock
        self.fare = fare
        self.pending = pending if pending is not None else PendingTaps()
        self.retap_grace_s = retap_grace_s
        self._seq = 0
        self._lock = threading.Lock()

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def present(self, channel: Channel) -> TapOutcome:
        outcome = TapOutcome("unknown_card")
        try:
            self._run(CardClient(channel), outcome)
        except ProtocolError as exc:  # CardIoError and the protocol's named errors
            outcome.code, outcome.detail = exc.code, str(exc)
        except Exception as exc:  # a misbehaving card must never crash the terminal
            outcome.code, outcome.detail = "unknown_card", f"{type(exc).__name__}: {exc}"
        return outcome

    def _run(self, client: CardClient, outcome: TapOutcome) -> None:
        info = client.select()
        outcome.uid, outcome.key_version = info.uid, info.key_version
        if info.state != CardState.LOCKED:
            outcome.code = "card_not_in_service"
            return
        key = card_key(self.keys.master_key(info.key_version), info.uid, AID, SYSTEM_ID)
        client.authenticate(key)
        pending = self.pending.get(info.uid)
        if pending is not None:
            settled = self._settle(client, key, info.counter, pending)
            outcome.settled.append(settled)
            self.pending.remove(info.uid)
            recovered = settled.record if settled.result is Settlement.CHARGED else None
            if recovered is not None and self.clock() - recovered.time <= self.retap_grace_s:
                outcome.code, outcome.record, outcome.mac = (
                    "already_charged",
                    recovered,
                    settled.mac,
                )
                return
        now = self.clock()
        cert = HolderCertificate.verify(client.read_certificate(), self.issuer_keys, int(now))
        outcome.certificate = cert
        request = TapRequest(self.terminal_id, self._next_seq(), int(now), self.fare(cert))
        try:
            counter, mac = client.tap(request)
        except TransactionTorn:
            self.pending.add(PendingTap(info.uid, info.key_version, info.counter, request))
            raise
        record = TapRecord.of(request, counter)
        verify_tap_mac(key, record, mac)
        outcome.code, outcome.record, outcome.mac = "charged", record, mac

    def _settle(
        self, client: CardClient, key: bytes, counter: int, pending: PendingTap
    ) -> SettledTap:
        if counter == pending.counter_before:
            return SettledTap(pending, Settlement.NOT_COUNTED)
        last = client.last_tap()
        if counter == pending.counter_before + 1 and last is not None:
            record, mac = last
            if record.request == pending.request and record.card_counter == counter:
                try:
                    verify_tap_mac(key, record, mac)
                except ProtocolError:
                    return SettledTap(pending, Settlement.LOST)
                return SettledTap(pending, Settlement.CHARGED, record, mac)
        return SettledTap(pending, Settlement.LOST)


__all__ = ["CardIoError", "TapOutcome", "TapTerminal"]
