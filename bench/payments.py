"""Benchmark: Stripe webhook processing, signature to ledger write.

    .venv/bin/python bench/payments.py --events 500                      # a quick check
    .venv/bin/python bench/payments.py --events 20000                    # SQLite file in bench/out/
    .venv/bin/python bench/payments.py --events 20000 --db postgresql://postgres@127.0.0.1:5432/bench_payments

Each event is a distinct, signed ``payment_intent.succeeded`` for a pending top-up of its own
holder, so each one is verified, stored, processed (top-up found and locked, purse credited from
``stripe_clearing`` by a ledger transfer, top-up and event marked) in two transactions, exactly as
the webhook endpoint does. Two figures:

- ``service``: ``webhooks.receive`` with the web service's intake (concurrent deliveries share
  transactions), called by ``--threads`` threads (no HTTP);
- ``http``: the service under uvicorn in its own process (``card-service serve --no-access-log``), the events
  POSTed over ``--threads`` keep-alive connections by a light asyncio client. The webhook is
  served by the plain ASGI fast path (card_service/payments/fast_webhook.py). Client and server
  share the machine's cores; the server's own CPU time per event is reported too.

Afterwards every purse must hold exactly its top-up and ``stripe_clearing`` the sum. Target:
at least 500 events/s including the ledger write, on a 2-core machine. The last line is one JSON
object; figures go to docs/performance.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import stripe  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from card_service.config import Settings  # noqa: E402
from card_service.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from card_service.identity.models import Holder  # noqa: E402
from card_service.ledger import service as ledger  # noqa: E402
from card_service.ledger.schemas import AccountFlags, AccountSpec  # noqa: E402
from card_service.migrate import upgrade  # noqa: E402
from card_service.payments import accounts, webhooks  # noqa: E402
from card_service.payments.intake import Intake  # noqa: E402
from card_service.payments.models import StripeEvent, TopUp  # noqa: E402

SECRET = "whsec_bench_" + uuid.uuid4().hex
AMOUNT = 1000


def fresh_database(url: str | None, tag: str) -> str:
    if url is None:
        path = ROOT / "bench" / "out" / f"payments-{tag}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
        url = f"sqlite:///{path}"
    elif make_url(url).get_backend_name() == "postgresql":
        import psycopg

        base = make_url(url)
        url = base.set(database=f"{base.database}_{tag}").render_as_string(hide_password=False)
        name = make_url(url).database
        admin = base.set(database="postgres", drivername="postgresql")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{name}"')
    upgrade(url)
    return url


def prepare(url: str, n: int, tag: str) -> list[tuple[bytes, str]]:
    """n holders with a purse and a pending top-up each, and the signed success events."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with transaction(factory) as s:
        accounts.clearing(s)
        purses = ledger.open_accounts(
            s,
            [
                AccountSpec(
                    f"purse:B{tag}{i:09d}", "purse", AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, 0
                )
                for i in range(n)
            ],
        )
        s.execute(
            insert(Holder),
            [
                {"pseudonym": f"B{tag}{i:09d}", "kind": "person", "status": "active",
                 "purse_account_id": purses[i], "created_at": now, "updated_at": now}
                for i in range(n)
            ],
        )  # fmt: skip
        ids = dict(s.execute(select(Holder.pseudonym, Holder.id)).all())
        s.execute(
            insert(TopUp),
            [
                {"id": uuid.uuid4(), "holder_id": ids[f"B{tag}{i:09d}"], "kind": "online",
                 "amount_cents": AMOUNT, "status": "pending", "credited_cents": 0,
                 "stripe_payment_intent_id": f"pi_{tag}{i:012d}", "created_at": now,
                 "updated_at": now}
                for i in range(n)
            ],
        )  # fmt: skip
    engine.dispose()
    out = []
    created = int(time.time())
    for i in range(n):
        intent = {
            "id": f"pi_{tag}{i:012d}", "object": "payment_intent", "amount": AMOUNT,
            "amount_received": AMOUNT, "currency": "eur", "status": "succeeded",
            "latest_charge": f"ch_{tag}{i:012d}", "metadata": {},
        }  # fmt: skip
        body = json.dumps(
            {"id": f"evt_{tag}{i:012d}", "object": "event", "type": "payment_intent.succeeded",
             "created": created, "livemode": False, "data": {"object": intent}}
        )  # fmt: skip
        out.append((body.encode(), stripe.WebhookSignature.generate_signature_header(body, SECRET)))
    return out


def check(url: str, n: int) -> None:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as s:
        processed = s.scalar(
            select(func.count()).where(
                StripeEvent.processed_at.is_not(None), StripeEvent.outcome == "applied"
            )
        )
        credited = s.scalar(select(func.count()).where(TopUp.status == "succeeded"))
        clearing = ledger.balance(s, ledger.find_account(s, accounts.STRIPE_CLEARING).id)
    assert processed == n and credited == n, (processed, credited)
    assert -clearing.balance_cents == n * AMOUNT, clearing.balance_cents
    engine.dispose()


def run_service(url: str, events: list[tuple[bytes, str]], threads: int) -> float:
    settings = Settings(database_url=url, stripe_webhook_secret=SECRET)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    intake = Intake(factory, settings)
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for got in pool.map(
            lambda e: webhooks.receive(factory, settings, e[0], e[1], intake.submit), events
        ):
            assert got.outcome == "applied"
    elapsed = time.perf_counter() - start
    intake.close()
    engine.dispose()
    return elapsed


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _client(port: int, requests: list[bytes], connections: int) -> list[int]:
    """A light HTTP/1.1 client (asyncio streams, prepared requests, keep-alive), so that the
    benchmark's own client takes little of the machine: Stripe's is elsewhere."""
    import asyncio

    todo = asyncio.Queue[tuple[int, bytes]]()
    for item in enumerate(requests):
        todo.put_nowait(item)
    codes = [0] * len(requests)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not todo.empty():
            index, raw = todo.get_nowait()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            codes[index] = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
        writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return codes


def run_http(url: str, events: list[tuple[bytes, str]], threads: int) -> tuple[float, float]:
    """Seconds for all events, and the server's CPU seconds meanwhile."""
    import asyncio

    port = 18_000 + os.getpid() % 1000
    env = {
        **os.environ,
        "CARD_SERVICE_DATABASE_URL": url,
        "CARD_SERVICE_STRIPE_WEBHOOK_SECRET": SECRET,
        "CARD_SERVICE_PAYMENTS_WORKER_INTERVAL_S": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "card_service.cli", "serve", "--port", str(port), "--no-access-log"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    requests = [
        b"POST /v1/payments/stripe/webhook HTTP/1.1\r\nHost: bench\r\n"
        b"Content-Type: application/json\r\nStripe-Signature: " + sig.encode() +
        b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        for body, sig in events
    ]  # fmt: skip
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        cpu = _cpu_s(server.pid)
        start = time.perf_counter()
        codes = asyncio.run(_client(port, requests, threads))
        elapsed = time.perf_counter() - start
        cpu = _cpu_s(server.pid) - cpu
        assert codes == [200] * len(events), {c: codes.count(c) for c in set(codes)}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument(
        "--threads", type=int, default=32, help="concurrent deliveries (threads or connections)"
    )
    parser.add_argument("--db", default=None, help="PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--mode", choices=("both", "service", "http"), default="both")
    args = parser.parse_args()

    results: dict[str, Any] = {"events": args.events, "threads": args.threads}
    results["load_avg_1m_before"] = round(os.getloadavg()[0], 2)
    for mode in ("service", "http"):
        if args.mode not in (mode, "both"):
            continue
        url = fresh_database(args.db, mode)
        events = prepare(url, args.events, mode[0].upper())
        if mode == "service":
            elapsed = run_service(url, events, args.threads)
        else:
            elapsed, server_cpu = run_http(url, events, args.threads)
            results["http_server_cpu_ms_per_event"] = round(server_cpu / args.events * 1000, 3)
        check(url, args.events)
        results["backend"] = make_url(url).get_backend_name()
        results[f"{mode}_events_per_s"] = round(args.events / elapsed, 1)
        results[f"{mode}_s"] = round(elapsed, 2)
        print(f"{mode}: {args.events} events in {elapsed:.2f} s = {args.events / elapsed:.0f}/s")
    results["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
