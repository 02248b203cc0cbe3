"""Ledger benchmark: settlement throughput on SQLite and PostgreSQL, durable, against the ceiling.

10,000 purses and 20 hot service revenue accounts, both Zipf-skewed; batches of 1, 100 and 5,000
(batch size 1 runs as 8 concurrent client processes on PostgreSQL; SQLite has a single writer).
The ceiling is the raw row rate of COPY (PostgreSQL) / executemany (SQLite) into a bare table.
The last line printed is one JSON object. Usage: python bench/ledger.py [--transfers N]
[--backends sqlite,postgresql] [--sizes 5000,100,1] (short runs: fewer transfers, one backend, one
size). Each figure also gives the benchmark process's CPU per transfer (µs; for singles, the mean
over the client processes), which is steadier than throughput on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.ledger import service as ledger
from card_service.ledger.ids import time_ordered_id
from card_service.ledger.schemas import AccountFlags, TransferRequest
from card_service.migrate import upgrade

PG_ADMIN = os.environ.get("CARD_SERVICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PURSES, HOT = 10_000, 20


def zipf(n: int, k: int, rng: random.Random) -> list[int]:
    return rng.choices(range(n), weights=[1 / (i + 1) for i in range(n)], k=k)


def setup(url: str) -> tuple[list[int], list[int]]:
    sessions = make_sessionmaker(make_engine(url))
    with transaction(sessions) as s:
        bank = ledger.open_account(s, code="bank", kind="stripe_clearing").id
        purses = [
            ledger.open_account(
                s,
                code=f"purse:{i}",
                kind="purse",
                floor_cents=500,
                flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            ).id
            for i in range(PURSES)
        ]
        hot = [
            ledger.open_account(s, code=f"revenue:{i}", kind="service_revenue").id
            for i in range(HOT)
        ]
    for i in range(0, PURSES, 5000):
        with transaction(sessions) as s:
            ledger.create_transfers(
                s,
                [
                    TransferRequest(time_ordered_id(), bank, p, 10_000_000, "topup")
                    for p in purses[i : i + 5000]
                ],
            )
    return purses, hot


def fares(purses: list[int], hot: list[int], n: int, seed: int) -> list[TransferRequest]:
    rng = random.Random(seed)
    p, h = zipf(len(purses), n, rng), zipf(len(hot), n, rng)
    return [
        TransferRequest(time_ordered_id(), purses[a], hot[b], 1 + (a + b) % 150, "fare")
        for a, b in zip(p, h, strict=True)
    ]


CPU_US: dict[str, float] = {}


def batched(url: str, requests: list[TransferRequest], size: int) -> float:
    sessions = make_sessionmaker(make_engine(url))
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(requests), size):
        with transaction(sessions) as s:
            results = ledger.create_transfers(s, requests[i : i + size])
        assert all(r.ok for r in results)
    CPU_US[str(size)] = (time.process_time() - cpu) / len(requests) * 1e6
    return len(requests) / (time.perf_counter() - start)


def _client(
    url: str, purses: list[int], hot: list[int], n: int, seed: int, start_at: float, out: mp.Queue
) -> None:  # type: ignore[type-arg]
    requests = fares(purses, hot, n, seed)
    sessions = make_sessionmaker(make_engine(url, pool_size=1))
    while time.time() < start_at:
        time.sleep(0.001)
    t, cpu = time.perf_counter(), time.process_time()
    for r in requests:
        with transaction(sessions) as s:
            assert ledger.create_transfers(s, [r])[0].ok
    out.put((n, time.perf_counter() - t, time.process_time() - cpu))


def singles(url: str, purses: list[int], hot: list[int], n: int, clients: int) -> float:
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 2
    procs = [
        mp.Process(target=_client, args=(url, purses, hot, n // clients, 1000 + c, start_at, queue))
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    done = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    CPU_US["1"] = sum(c for _, _, c in done) / sum(k for k, _, _ in done) * 1e6
    return sum(k for k, _, _ in done) / max(t for _, t, _ in done)


def ceiling_pg(url: str, rows: int) -> float:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute(
            "CREATE TABLE bare (id uuid, dr bigint, cr bigint, amount bigint, code text, ts bigint)"
        )
        data = [(time_ordered_id(), i, i + 1, 100, "fare", i) for i in range(rows)]
        t = time.perf_counter()
        with conn.cursor().copy("COPY bare FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
        conn.commit()
        return rows / (time.perf_counter() - t)


def ceiling_sqlite(path: str, rows: int) -> float:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE bare (id blob, dr int, cr int, amount int, code text, ts int)")
    data = [(time_ordered_id().bytes, i, i + 1, 100, "fare", i) for i in range(rows)]
    t = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO bare VALUES (?,?,?,?,?,?)", data)
    conn.execute("COMMIT")
    return rows / (time.perf_counter() - t)


def run_backend(name: str, url: str, n: int, single_n: int, sizes: list[int]) -> dict[str, float]:
    upgrade(url)
    purses, hot = setup(url)
    rates = {}
    for size in (s for s in sizes if s > 1):
        rates[str(size)] = batched(url, fares(purses, hot, n, seed=size), size)
        print(
            f"{name}: batches of {size}: {rates[str(size)]:,.0f} transfers/s, "
            f"{CPU_US[str(size)]:.1f} µs CPU per transfer",
            flush=True,
        )
    if 1 in sizes:
        clients = 8 if name == "postgresql" else 1
        rates["1"] = singles(url, purses, hot, single_n, clients)
        print(
            f"{name}: single transfers, {clients} clients: {rates['1']:,.0f} transfers/s, "
            f"{CPU_US['1']:.0f} µs client CPU per transfer",
            flush=True,
        )
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=200_000)
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--sizes", default="5000,100,1", help="batch sizes; 1 = single transfers")
    args = parser.parse_args()
    n, single_n = args.transfers, max(800, min(args.transfers // 10, 24_000))
    backends = args.backends.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    out: dict[str, dict[str, object]] = {"transfers_per_s": {}, "ceiling_rows_per_s": {}}
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite3"
            out["transfers_per_s"]["sqlite"] = run_backend(
                "sqlite", url, n, min(single_n, 3000), sizes
            )
            out["ceiling_rows_per_s"]["sqlite"] = round(ceiling_sqlite(f"{tmp}/bare.sqlite3", n))
    if "postgresql" in backends:
        run_postgres(out, n, single_n, sizes)
    for backend in out["transfers_per_s"].values():
        for k, v in backend.items():  # type: ignore[attr-defined]
            backend[k] = round(v)  # type: ignore[index]
    out["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "transfers": n}
    print(json.dumps(out))


def run_postgres(
    out: dict[str, dict[str, object]], n: int, single_n: int, sizes: list[int]
) -> None:
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    db = f"cs_bench_{os.getpid()}"
    admin.execute(f'CREATE DATABASE "{db}"')
    try:
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{db}"
        settings = admin.execute(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit')"
        ).fetchone()
        assert settings == ("on", "on"), (
            f"PostgreSQL must be durable for this benchmark: {settings}"
        )
        out["transfers_per_s"]["postgresql"] = run_backend("postgresql", url, n, single_n, sizes)
        out["ceiling_rows_per_s"]["postgresql"] = round(ceiling_pg(url, n))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
