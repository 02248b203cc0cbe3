"""The real rig: pcscd as a child process, virtual cards as processes, waits on PC/SC events."""

from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from smartcard.scard import (
    SCARD_E_TIMEOUT,
    SCARD_S_SUCCESS,
    SCARD_SCOPE_USER,
    SCARD_STATE_CHANGED,
    SCARD_STATE_PRESENT,
    SCARD_STATE_UNAWARE,
    SCardEstablishContext,
    SCardGetStatusChange,
    SCardReleaseContext,
)

PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
READER = "Virtual PCD 00 00"
READER_2 = "Virtual PCD 00 01"
PORTS = {READER: 35963, READER_2: 35964}
REPO = Path(__file__).resolve().parents[2]


def pcscd_missing() -> str | None:
    """Why the rig cannot run here, or None."""
    if shutil.which("pcscd") is None:
        return "pcscd is not installed"
    if not Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists():
        return "vsmartcard-vpcd is not installed"
    if os.geteuid() != 0:
        return "starting pcscd needs root (it owns /run/pcscd)"
    if _socket_alive():
        return "another pcscd is running; stop it (one pcscd per machine)"
    return None


def _socket_alive() -> bool:
    if not PCSCD_SOCKET.exists():
        return False
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(PCSCD_SOCKET))
        except OSError:
            return False
    return True


CURRENT: list[Pcscd] = []  # the pcscd this process started last, for failure messages


class Pcscd:
    """pcscd in the foreground; ``start`` returns once it logs that the daemon is ready."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self.log: collections.deque[str] = collections.deque(maxlen=200)
        self.lines = 0
        self._changed = threading.Condition()

    def start(self, timeout: float = 10) -> None:
        CURRENT[:] = [self]
        self._ready.clear()
        self.proc = subprocess.Popen(
            ["pcscd", "--foreground", "--info"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("pcscd did not report ready")

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._changed:
                self.log.append(line.rstrip())
                self.lines += 1
                self._changed.notify_all()
            if "daemon ready" in line:
                self._ready.set()

    def mark(self) -> int:
        return self.lines

    def wait_line(self, text: str, since: int, timeout: float = 5) -> None:
        """Wait until pcscd logs a line containing ``text`` after line number ``since``."""

        def seen() -> bool:
            fresh = list(self.log)[-(self.lines - since) :] if self.lines > since else []
            return any(text in line for line in fresh)

        with self._changed:
            if not self._changed.wait_for(seen, timeout):
                raise TimeoutError(f"pcscd did not log {text!r}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None


def wait_card(reader: str, present: bool, timeout: float = 5.0) -> bytes:
    """Block on SCardGetStatusChange until a card is present (or absent); return its ATR."""
    # libpcsclite can refuse a context for a moment (SCARD_E_NO_SERVICE) while pcscd is up and
    # busy accepting other clients; a few quick tries tell that from a pcscd that is gone.
    for _ in range(20):
        hresult, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
        if hresult == SCARD_S_SUCCESS:
            break
        time.sleep(0.05)
    if hresult != SCARD_S_SUCCESS:
        tail = "\n".join(list(CURRENT[0].log)[-15:]) if CURRENT else ""
        raise AssertionError(f"pcscd does not answer: {hresult & 0xFFFFFFFF:#x}\n{tail}")
    try:
        state = SCARD_STATE_UNAWARE
        remaining_ms = int(timeout * 1000)
        while True:
            hresult, states = SCardGetStatusChange(ctx, remaining_ms, [(reader, state)])
            if hresult == SCARD_E_TIMEOUT:
                raise TimeoutError(f"no card {'insertion' if present else 'removal'} on {reader}")
            assert hresult == SCARD_S_SUCCESS, f"SCardGetStatusChange: {hresult:#x}"
            _, event_state, atr = states[0]
            if bool(event_state & SCARD_STATE_PRESENT) == present:
                return bytes(atr)
            state = event_state & ~SCARD_STATE_CHANGED
    finally:
        SCardReleaseContext(ctx)


class VirtualCard:
    """A virtual card process. Running = in the reader's field."""

    def __init__(
        self, state: Path, pcscd: Pcscd, reader: str = READER, behaviour: str = "normal"
    ) -> None:
        self.pcscd = pcscd
        self.state = state
        self.reader = reader
        self.behaviour = behaviour
        self.tear_file = state.with_suffix(".tear")
        self.proc: subprocess.Popen[bytes] | None = None
        self._mark = 0

    def insert(self, wait: bool = True) -> VirtualCard:
        self._mark = self.pcscd.mark()
        cmd = [sys.executable, "-m", "terminals.virtual_card", "run", "--state", str(self.state)]
        cmd += ["--port", str(PORTS[self.reader]), "--tear-file", str(self.tear_file)]
        cmd += ["--behaviour", self.behaviour]
        with self.state.with_suffix(".log").open("a") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        if wait:
            wait_card(self.reader, present=True)
        return self

    def arm_tear(self, point: str) -> None:
        self.tear_file.write_text(point)

    def wait_gone(self) -> int | None:
        """Wait until the card process ended and pcscd's event thread logged the removal.

        (pcscd's public reader state can say "absent" after a failed command before its event
        thread has seen the removal; a card inserted in between would go unnoticed.)"""
        status = self.proc.wait(timeout=5) if self.proc is not None else None
        self.pcscd.wait_line(f"Card Removed From {self.reader}", since=self._mark)
        self.proc = None
        return status

    def remove(self, wait: bool = True) -> None:
        """Take the card out of the field and wait until pcscd has seen it go."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            if wait and self.pcscd.proc is not None:
                self.wait_gone()
        if self.proc is not None:
            self.proc.wait(timeout=5)
        self.proc = None
