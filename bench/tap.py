"""Benchmark: card taps through the real pcscd, vpcd and the virtual card.

    .venv/bin/python bench/tap.py [--taps 1000]

Starts pcscd (unless one is running, then it must have the vpcd reader) and a virtual card
process, personalises the card, then times TapTerminal.present over PC/SC: select, mutual
authentication, read and verify the certificate, TAP with MAC and its check. Two figures:
- tap: on a connected card (what a tap costs once the reader has the card);
- presentation: the same plus SCardConnect (power up) and SCardDisconnect (power down).
Then the software part alone: the terminal's side of the same tap against the card applet in
process, minus the applet's own time (what the validator's CPU spends deciding).
The last line is JSON with the figures.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from smartcard.scard import SCARD_UNPOWER_CARD
from smartcard.System import readers

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from card_service.protocol.keystore import MemoryKeystore  # noqa: E402
from terminals.pcsc.channel import PcscChannel  # noqa: E402
from terminals.pcsc.personalise import CardIssue, personalise  # noqa: E402
from terminals.pcsc.tap import TapTerminal  # noqa: E402
from terminals.virtual_card.applet import Applet  # noqa: E402
from terminals.virtual_card.state import CardFile, CardStore  # noqa: E402

READER = "Virtual PCD 00 00"


def _pcscd_alive() -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect("/run/pcscd/pcscd.comm")
        except OSError:
            return False
    return True


def _start_pcscd() -> subprocess.Popen[str] | None:
    if _pcscd_alive():
        return None
    proc = subprocess.Popen(
        ["pcscd", "--foreground", "--info"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait for the daemon's own "ready" line
        if "daemon ready" in line:
            break
    return proc


def _wait_card(timeout: float = 10) -> object:
    from smartcard.CardRequest import CardRequest

    request = CardRequest(readers=[READER], timeout=timeout)
    service = request.waitforcard()
    request.pcsccardrequest.release()
    return service


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _keys() -> MemoryKeystore:
    keys = MemoryKeystore()
    keys.add_master(0, os.urandom(16))
    keys.add_master(1, os.urandom(16))
    keys.add_issuer(1, Ed25519PrivateKey.generate())
    return keys


def _issued_store(path: Path, keys: MemoryKeystore) -> CardStore:
    store = CardStore(path)
    store.save(CardFile.blank(bytes.fromhex("04A1B2C3D4E5F6"), keys.master_key(0)))
    issue = CardIssue(os.urandom(16), os.urandom(16), int(time.time()) + 86400, ("resident",), 1)
    personalise(_InProcess(Applet(store)), keys, issue)
    return store


class _InProcess:
    def __init__(self, applet: Applet) -> None:
        self.applet = applet
        self.card_s = 0.0

    def transmit(self, apdu: bytes) -> bytes:
        t0 = time.perf_counter()
        answer = self.applet.process(apdu)
        self.card_s += time.perf_counter() - t0
        return answer


def _terminal(keys: MemoryKeystore) -> TapTerminal:
    return TapTerminal(keys, keys.issuer_public_keys(), 7, time.time, lambda cert: 150)


def bench_pcsc(taps: int, workdir: Path) -> tuple[list[float], list[float]]:
    keys = _keys()
    store = _issued_store(workdir / "card.json", keys)
    daemon = _start_pcscd()
    card = subprocess.Popen(
        [sys.executable, "-m", "terminals.virtual_card", "run", "--state", str(store.path)],
        cwd=REPO,
    )
    try:
        _wait_card()
        reader = next(r for r in readers() if str(r) == READER)
        terminal = _terminal(keys)
        connection = reader.createConnection()
        connection.connect()
        channel = PcscChannel(connection)
        on_card = []
        for _ in range(taps):
            t0 = time.perf_counter()
            outcome = terminal.present(channel)
            on_card.append((time.perf_counter() - t0) * 1000)
            assert outcome.code == "charged", outcome
        channel.close()
        presentations = []
        for _ in range(max(1, taps // 4)):
            t0 = time.perf_counter()
            connection = reader.createConnection()
            connection.connect(disposition=SCARD_UNPOWER_CARD)  # power down at disconnect
            channel = PcscChannel(connection)
            outcome = terminal.present(channel)
            channel.close()
            presentations.append((time.perf_counter() - t0) * 1000)
            assert outcome.code == "charged", outcome
        return on_card, presentations
    finally:
        card.terminate()
        card.wait()
        if daemon is not None:
            daemon.terminate()
            daemon.wait()


def bench_software(taps: int, workdir: Path) -> list[float]:
    keys = _keys()
    channel = _InProcess(Applet(_issued_store(workdir / "soft.json", keys)))
    terminal = _terminal(keys)
    figures = []
    for _ in range(taps):
        channel.card_s = 0.0
        t0 = time.perf_counter()
        outcome = terminal.present(channel)
        figures.append((time.perf_counter() - t0 - channel.card_s) * 1000)
        assert outcome.code == "charged", outcome
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--taps", type=int, default=1000)
    args = parser.parse_args()
    # the tests' lock: one pcscd per machine, so never run while the PC/SC tests do
    lock = (Path(tempfile.gettempdir()) / "card-service-pcscd.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    with tempfile.TemporaryDirectory() as tmp:
        on_card, presentations = bench_pcsc(args.taps, Path(tmp))
        software = bench_software(args.taps, Path(tmp))
    for name, values in (
        ("tap over PC/SC", on_card),
        ("presentation (connect + tap + disconnect)", presentations),
        ("software part (terminal side)", software),
    ):
        print(
            f"{name:45s} n={len(values):5d} p50={statistics.median(values):7.3f} ms "
            f"p99={_pct(values, 0.99):7.3f} ms max={max(values):7.3f} ms"
        )
    print(
        json.dumps(
            {
                "bench": "tap",
                "taps": len(on_card),
                "tap_latency_ms_p50": round(statistics.median(on_card), 3),
                "tap_latency_ms_p99": round(_pct(on_card, 0.99), 3),
                "presentations": len(presentations),
                "presentation_latency_ms_p99": round(_pct(presentations, 0.99), 3),
                "software_latency_ms_p50": round(statistics.median(software), 3),
                "software_latency_ms_p99": round(_pct(software, 0.99), 3),
                "cpu_count": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
