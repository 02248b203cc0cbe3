"""The vpcd socket protocol (vsmartcard's virtual reader driver), card side.

vpcd (inside pcscd) listens on a TCP port; the virtual card connects to it. Every message in both
directions is a 2-byte big-endian length and a payload. From vpcd, a 1-byte payload is a control
message: 0x00 power off, 0x01 power on, 0x02 reset, 0x04 get ATR (answered with the ATR); any
other payload is a C-APDU, answered with an R-APDU.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

POWER_OFF, POWER_ON, RESET, GET_ATR = 0x00, 0x01, 0x02, 0x04
HISTORICAL = b"CITYCARD"


def _atr() -> bytes:
    # TS=3B, T0=88 (TD1 follows, 8 historical bytes), TD1=80 (TD2 follows, T=0), TD2=01 (T=1)
    body = bytes([0x88, 0x80, 0x01]) + HISTORICAL
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


ATR = _atr()


class LinkClosed(Exception):
    """vpcd closed the connection (pcscd stopped)."""


class VpcdLink:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = 1.0) -> VpcdLink:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.settimeout(None)
        return cls(sock)

    def _read_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            # Linux resets quick-ack after a while; without it every APDU waits ~40 ms
            # for the delayed ACK to interact with vpcd's Nagle-bound send.
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise LinkClosed("vpcd closed the connection")
            buf += chunk
        return buf

    def receive(self) -> bytes:
        size = int.from_bytes(self._read_exact(2), "big")
        return self._read_exact(size) if size else b""

    def send(self, payload: bytes) -> None:
        self.sock.sendall(len(payload).to_bytes(2, "big") + payload)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def serve(self, on_apdu: Callable[[bytes], bytes], on_reset: Callable[[], None]) -> None:
        """Answer vpcd until it closes the link (raises ``LinkClosed``)."""
        while True:
            msg = self.receive()
            if len(msg) == 1:
                if msg[0] == GET_ATR:
                    self.send(ATR)
                elif msg[0] in (POWER_OFF, POWER_ON, RESET):
                    on_reset()
                continue
            if msg:
                self.send(on_apdu(msg))
