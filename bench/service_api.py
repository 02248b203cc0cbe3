"""Benchmark: the service API over HTTP, as a city service uses it (eligibility and quotes).

    .venv/bin/python bench/service_api.py --holders 20000 --seconds 10          # small, SQLite
    .venv/bin/python bench/service_api.py --holders 1000000 --seconds 60        # the full run
    .venv/bin/python bench/service_api.py --holders 1000000 --reuse --seconds 60   # no reload
    .venv/bin/python bench/service_api.py --db postgresql://postgres@127.0.0.1:5432/bench_services

Loads N holders with active cards (the demo seeder's bulk path), the demo catalogue, one
registered client of the bus service (policy: entitlement and quote). Serves the real app with
uvicorn in a subprocess (``--workers`` processes) and drives it from ``--loaders`` separate
processes, each an event loop (uvloop) holding ``--connections`` keep-alive HTTP/1.1
connections (asyncio protocols, every request built once per card), one request at a time on
each (no pipelining), so the client costs the server's cores little (about 26 µs a request). Half the requests ask "is this card's holder a senior?" (birth date decrypted,
never disclosed), half "what does this card pay for a bus ride now?" (grants, recent uses, the
fee engine). Every request is authenticated, rate-limited and audited with its purpose, as in
production. Latency is measured by the client, send to full answer. Targets
(docs/performance.md): >= 3,000 requests/s, p99 < 20 ms on 2 cores. The last line is JSON,
with ``requests_per_s``, ``p99_ms``, ``server_cpu_us_per_request`` (and its user and system
parts) and ``client_cpu_us_per_request`` (the load processes' own CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from card_service.audit.schemas import Actor  # noqa: E402
from card_service.cards.models import Card  # noqa: E402
from card_service.catalogue import service as catalogue  # noqa: E402
from card_service.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from card_service.demo.seed import seed  # noqa: E402
from card_service.identity.crypto import keyring_for  # noqa: E402
from card_service.migrate import upgrade  # noqa: E402
from card_service.services_api import clients  # noqa: E402
from card_service.services_api.policy import Policy  # noqa: E402

GIJON = ROOT / "card_service" / "catalogue" / "data" / "gijon.yaml"
OUT = ROOT / "bench" / "out"
KEYRING = OUT / "pii-keyring.json"


def fresh_database(url: str | None, n: int) -> str:
    if url is None:
        path = OUT / f"service-api-{n}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
        url = f"sqlite:///{path}"
    elif make_url(url).get_backend_name() == "postgresql":
        import psycopg

        name = make_url(url).database
        admin = make_url(url).set(database="postgres", drivername="postgresql")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{name}"')
    upgrade(url)
    return url


def prepare(url: str, holders: int, reuse: bool) -> tuple[str, str, list[str], float]:
    """Load (unless reusing) and register a fresh client; its id, secret, a card sample."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    ring = keyring_for(None, KEYRING)
    load_s = 0.0
    if not reuse:
        t0 = time.perf_counter()
        loaded = 0

        def progress(k: int) -> None:
            nonlocal loaded
            loaded += k
            if loaded % 100_000 < k:
                print(f"  {loaded:,} holders, {time.perf_counter() - t0:.0f} s", flush=True)

        seed(
            factory, ring, holders_count=holders, batch_size=5000, seed_value=42, progress=progress
        )
        load_s = time.perf_counter() - t0
        now = datetime.now(UTC)
        with transaction(factory) as s:
            text = GIJON.read_text(encoding="utf-8")
            catalogue.load(s, text, now, Actor.system("bench"), now=now)
    with transaction(factory) as s:
        issued = clients.register(
            s,
            Actor.system("bench"),
            service="bus",
            name="bench",
            policy=Policy(questions=["entitlement", "quote"]),
            rate_per_s=1_000_000,
            burst=1_000_000,
            categories=["senior"],
        )
        client_id, secret = issued.client.client_id, issued.secret
    with factory() as s:
        sample = list(
            s.scalars(
                select(Card.number)
                .where(Card.status == "active")
                .order_by(func.random())
                .limit(5000)
            )
        )
    engine.dispose()
    if not sample:  # else every load process fails on its first request and the run hangs
        sys.exit(f"no active card in {url}: load it again (without --reuse)")
    return client_id, secret, sample, load_s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


APPS = {
    "app": "card_service.api.app:create_app",  # what `card-service serve` runs today
    "fast-first": "card_service.api.fast:create_served_app",  # fast routes before FastAPI's layers
}


def serve(
    url: str, port: int, workers: int, app: str = "app", listen: str = "shared"
) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "CARD_SERVICE_DATABASE_URL": url,
        "CARD_SERVICE_PII_KEYRING_PATH": str(KEYRING),
        "CARD_SERVICE_LEDGER_MAINTENANCE_INTERVAL_S": "5",
        "CARD_SERVICE_GC_FREEZE_AT_START": "true",  # as card-service serve starts it
    }
    where = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    quiet = ["--log-level", "warning", "--no-access-log"]
    if listen == "reuseport":  # a socket per worker (api/serving.py)
        cmd = [sys.executable, "-m", "card_service.api.serving", "--factory", APPS[app]]
    else:  # uvicorn's one socket shared by its workers
        cmd = [sys.executable, "-m", "uvicorn", APPS[app], "--factory"]
    cmd += where + quiet
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server did not start")
        time.sleep(0.2)
    stop(proc)
    raise SystemExit("the server did not answer within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def prebuilt(host: str, port: int, auth: str, cards: list[str]) -> list[tuple[str, bytes]]:
    """Every request a load process sends, built once: (kind, the request's bytes) per card and
    question, so the load processes spend their CPU on HTTP, not on formatting."""
    head = f"Host: {host}:{port}\r\nAuthorization: {auth}\r\nPurpose: benchmark: fare display\r\n"
    out: list[tuple[str, bytes]] = []
    for card in cards:
        get = f"GET /v1/services/cards/{card}/entitlements/senior HTTP/1.1\r\n{head}\r\n"
        out.append(("eligibility", get.encode()))
        body = b'{"card":"%s","product":"single"}' % card.encode()
        post = (
            f"POST /v1/services/quotes HTTP/1.1\r\n{head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append(("quote", post.encode() + body))
    return out


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time (no pipelining): the next
    request leaves when the whole answer (status line, headers, Content-Length bytes) is in."""

    def __init__(
        self,
        requests: list[tuple[str, bytes]],
        rng: random.Random,
        start: float,
        stop_at: float,
        mine: dict[str, list[float]],
        bad: list[str],
        done: asyncio.Future[int],
    ) -> None:
        self.requests, self.rng, self.start, self.stop_at = requests, rng, start, stop_at
        self.mine, self.bad, self.done = mine, bad, done
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.kind, self.sent_wall, self.t = "", 0.0, 0.0
        self.answers = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        now = time.time()
        if now >= self.stop_at:
            self.transport.close()
            return
        self.kind, request = self.requests[self.rng.randrange(len(self.requests))]
        self.sent_wall, self.buf = now, b""
        self.t = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf = self.buf + data if self.buf else data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = buf[:end].lower()
        at = head.find(b"\r\ncontent-length:")
        length = int(head[at + 17 : head.find(b"\r\n", at + 2)]) if at >= 0 else 0
        if len(buf) < end + 4 + length:
            return
        ms = (time.perf_counter() - self.t) * 1000
        self.answers += 1
        status = int(buf[9:12])
        if status != 200:
            self.bad.append(f"{status} {buf[end + 4 : end + 84]!r}")
        elif self.sent_wall >= self.start:  # after the warm-up
            self.mine[self.kind].append(ms)
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done.done():
            return
        if exc is not None or time.time() < self.stop_at:
            self.done.set_exception(exc or ConnectionError("the server closed the connection"))
        else:
            self.done.set_result(self.answers)


def load_process(
    base: str,
    auth: str,
    cards: list[str],
    connections: int,
    warmup: float,
    seconds: float,
    seed_: int,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    """One load process: an event loop (uvloop when present) driving ``connections`` keep-alive
    connections. Starts when every load process is ready (``go``), warms up, then measures.
    Reports its own CPU per answer (``time.process_time``) with the latencies."""
    host, port = base.removeprefix("http://").split(":")
    requests = prebuilt(host, int(port), auth, cards)
    out: dict[str, list[float]] = {"eligibility": [], "quote": []}
    errors: list[str] = []
    answers = 0
    ready.set()
    go.wait()
    start = time.time() + warmup
    stop_at = start + seconds
    cpu0 = time.process_time()

    async def run() -> None:
        nonlocal answers
        loop = asyncio.get_running_loop()
        rng = random.Random(seed_)
        dones: list[asyncio.Future[int]] = []
        for _ in range(connections):
            done: asyncio.Future[int] = loop.create_future()
            conn = _Connection(
                requests, random.Random(rng.random()), start, stop_at, out, errors, done
            )
            await loop.create_connection(lambda c=conn: c, host, int(port))  # type: ignore[misc]
            dones.append(done)
        for result in await asyncio.gather(*dones, return_exceptions=True):
            if isinstance(result, BaseException):  # a dead connection must show, not vanish
                errors.append(f"{type(result).__name__}: {result}")
            else:
                answers += result

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())
    cpu = time.process_time() - cpu0
    results.put({"latencies": out, "errors": errors, "answers": answers, "cpu_s": cpu})


def tree_cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds (user, system) of a process and its children so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            user += int(fields[11])  # utime
            system += int(fields[12])  # stime
    return user / tick, system / tick


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--holders", type=int, default=20_000, help="holders to load")
    ap.add_argument("--db", default=None, help="database URL (default: a new SQLite file)")
    ap.add_argument("--reuse", action="store_true", help="use the database a run loaded before")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--loaders", type=int, default=2, help="load processes")
    ap.add_argument("--connections", type=int, default=16, help="connections per load process")
    ap.add_argument("--app", choices=sorted(APPS), default="app",
                    help="app: the FastAPI app (as serve runs it); fast-first: the fast routes "
                    "in front of FastAPI's layers (api/fast.py before_fastapi)")  # fmt: skip
    ap.add_argument("--listen", choices=["shared", "reuseport"], default="shared",
                    help="shared: uvicorn --workers (one socket; as serve runs today); "
                    "reuseport: a SO_REUSEPORT socket per worker (api/serving.py)")  # fmt: skip
    args = ap.parse_args()

    default_file = OUT / f"service-api-{args.holders}.sqlite3"
    if args.reuse:
        url = args.db or f"sqlite:///{default_file}"
        upgrade(url)
    else:
        url = fresh_database(args.db, args.holders)
    client_id, secret, cards, load_s = prepare(url, args.holders, args.reuse)
    auth = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    port = free_port()
    proc = serve(url, port, args.workers, args.app, args.listen)
    ctx = mp.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    readies = [ctx.Event() for _ in range(args.loaders)]
    base = f"http://127.0.0.1:{port}"
    signals = (go, results)
    loaders = [
        ctx.Process(
            target=load_process,
            args=(
                base,
                auth,
                cards,
                args.connections,
                args.warmup,
                args.seconds,
                i,
                readies[i],
                *signals,
            ),
        )
        for i in range(args.loaders)
    ]
    try:
        for p in loaders:
            p.start()
        for r in readies:
            r.wait(timeout=120)
        go.set()
        time.sleep(args.warmup)
        user0, system0 = tree_cpu_s(proc.pid)
        time.sleep(args.seconds)
        user1, system1 = tree_cpu_s(proc.pid)
        parts = [results.get(timeout=args.warmup + args.seconds + 120) for _ in loaders]
        for p in loaders:
            p.join()
    finally:
        for p in loaders:
            if p.is_alive():
                p.terminate()
        stop(proc)
    lat: dict[str, list[float]] = {"eligibility": [], "quote": []}
    errors: list[str] = []
    for part in parts:
        for key, values in part["latencies"].items():
            lat[key].extend(values)
        errors.extend(part["errors"])
    both = lat["eligibility"] + lat["quote"]
    answered = max(1, len(both))
    client_answers = max(1, sum(p["answers"] for p in parts))
    result: dict[str, Any] = {
        "benchmark": "service_api",
        "backend": make_url(url).get_backend_name(),
        "holders": args.holders,
        "load_s": round(load_s, 1),
        "seconds": args.seconds,
        "server_workers": args.workers,
        "app": args.app,
        "listen": args.listen,
        "load_processes": args.loaders,
        "connections": args.loaders * args.connections,
        "requests_per_s": round(len(both) / args.seconds, 1),
        "latency_ms_p50": round(pct(both, 0.5), 2),
        "latency_ms_p99": round(pct(both, 0.99), 2),
        "p99_ms": round(pct(both, 0.99), 2),
        "server_cpu_us_per_request": round((user1 - user0 + system1 - system0) / answered * 1e6),
        "server_cpu_user_us_per_request": round((user1 - user0) / answered * 1e6),
        "server_cpu_system_us_per_request": round((system1 - system0) / answered * 1e6),
        "client_cpu_us_per_request": round(sum(p["cpu_s"] for p in parts) / client_answers * 1e6),
        "errors": len(errors),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    for key, values in lat.items():
        result[key] = {
            "requests_per_s": round(len(values) / args.seconds, 1),
            "latency_ms_p50": round(pct(values, 0.5), 2),
            "latency_ms_p99": round(pct(values, 0.99), 2),
        }
    if errors:
        print("first errors:", *errors[:5], sep="\n  ")
    print(
        f"{result['requests_per_s']:,} requests/s over {args.seconds:.0f} s, "
        f"p50 {result['latency_ms_p50']} ms, p99 {result['latency_ms_p99']} ms, "
        f"{len(errors)} errors, server CPU {result['server_cpu_us_per_request']} us/request "
        f"({result['server_cpu_system_us_per_request']} system), "
        f"load processes {result['client_cpu_us_per_request']} us/request, "
        f"load average {result['load_average']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
