"""Workers with a socket each (api/serving.py): the kernel spreads connections over them, the
service answers, and SIGTERM stops it all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from card_service.api.serving import listening_socket


def test_connections_are_spread_over_the_workers_sockets() -> None:
    first = listening_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port)  # a second worker on the same address
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    try:
        counts = []
        for sock in (first, second):
            sock.setblocking(False)
            n = 0
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                n += 1
            counts.append(n)
        assert sum(counts) == 64
        assert min(counts) > 0  # each worker gets its share, not whichever woke first
    finally:
        for c in clients:
            c.close()
        first.close()
        second.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_service_answers_from_its_workers_and_stops_on_sigterm(
    sqlite_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = os.environ | {
        "CARD_SERVICE_DATABASE_URL": sqlite_url,
        "CARD_SERVICE_PII_KEYRING_PATH": str(tmp_path / "keyring.json"),
        "CARD_SERVICE_LEDGER_MAINTENANCE_INTERVAL_S": "0",
    }
    cmd = [sys.executable, "-m", "card_service.api.serving", "--workers", "2"]
    cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env)
    try:
        deadline = time.monotonic() + 60
        answered = None
        while time.monotonic() < deadline and answered is None:
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answered is not None and answered.json()["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            raise AssertionError("a worker still answers after SIGTERM")
        except httpx.ConnectError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
