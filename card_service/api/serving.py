"""Worker processes that each listen on their own SO_REUSEPORT socket, so the kernel spreads
connections over them.

``uvicorn --workers N`` binds one socket in the supervisor and every worker accepts from it:
whichever worker wakes first takes the waiting connections, so long-lived keep-alive clients
end up unevenly spread. Measured with the service-API benchmark (2 workers, 32 connections):
27 connections on one worker and 5 on the other, so one core served 84 % of the questions
while the other idled, and the busy one's queue set the p99. Here each worker binds the same
address with SO_REUSEPORT and the kernel assigns each new connection to one of the sockets by a
hash of its addresses: the split is even on average (16 ± 3 of 32). Linux only (elsewhere use
uvicorn's own ``--workers``).

``python -m card_service.api.serving --workers 2 [--host H] [--port P] [--no-access-log]
[--factory module:function]``. The supervisor starts the workers, restarts one that dies, and on
SIGTERM or SIGINT passes the signal on and waits for them (each shuts down as uvicorn does).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger(__name__)
APP = "card_service.api.app:create_app"
BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket on (host, port) that other processes may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _worker(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config(app, factory=True, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def run(app: str, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve ``app`` (a factory, ``module:function``) from ``workers`` processes; returns when
    they have stopped after SIGTERM or SIGINT."""
    ctx = mp.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        p = ctx.Process(target=_worker, args=(app, host, port, options), name="card-service")
        p.start()
        return p

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signum)  # each worker shuts down as uvicorn does

    procs = [start() for _ in range(workers)]
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            for i, p in enumerate(procs):
                if not p.is_alive() and not stopping:
                    log.warning(
                        "worker %s ended (exit code %s); starting another", p.pid, p.exitcode
                    )
                    procs[i] = start()
            time.sleep(0.5)
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--factory", default=APP, help="the app factory, module:function")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--no-access-log", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=args.log_level.upper())
    run(
        args.factory,
        args.host,
        args.port,
        args.workers,
        log_level=args.log_level,
        access_log=not args.no_access_log,
    )


if __name__ == "__main__":
    main()
