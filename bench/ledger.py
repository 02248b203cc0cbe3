"""Ledger benchmark: settlement throughput on SQLite and PostgreSQL, durable, against the ceiling.

10,000 purses and 20 hot service revenue accounts, both Zipf-skewed; batches of 1, 100 and 5,000
(batch size 1 runs as 8 concurrent client processes on PostgreSQL; SQLite has a single writer).
The ceiling is the raw row rate of COPY (PostgreSQL) / executemany (SQLite) into a bare table.
The last line printed is one JSON object. Usage: python bench/ledger.py [--transfers N]
[--backends sqlite,postgresql] [--sizes 5000,100,1] (short runs: fewer transfers, one backend, one
size) [--no-freeze] (batches: the requests built up front are frozen out of the collector's reach,
as the service freezes its start-up objects; this compares without). Each figure also gives the benchmark process's CPU per transfer (µs; for singles, the mean
over the client processes, and on PostgreSQL the server backends' CPU per transfer, read from
/proc), which is steadier than throughput on a shared machine. Single transfers go through
``ledger.transfer_alone`` (``--singles session``: ``create_transfers`` in an ORM session).
"""

from __future__ import annotations

import argparse
import gc
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
from sqlalchemy import Engine

from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.ledger import service as ledger
from card_service.ledger.ids import time_ordered_id
from card_service.ledger.schemas import AccountFlags, AccountSpec, TransferRequest
from card_service.migrate import upgrade

PG_ADMIN = os.environ.get("CARD_SERVICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PURSES, HOT = 10_000, 20


def zipf(n: int, k: int, rng: random.Random) -> list[int]:
    return rng.choices(range(n), weights=[1 / (i + 1) for i in range(n)], k=k)


def setup(url: str) -> tuple[list[int], list[int]]:
    sessions = make_sessionmaker(make_engine(url))
    with transaction(sessions) as s:
        bank = ledger.open_account(s, code="bank", kind="stripe_clearing").id
        purses = ledger.open_accounts(
            s,
            [
                AccountSpec(f"purse:{i}", "purse", AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, 500)
                for i in range(PURSES)
            ],
        )
        hot = ledger.open_accounts(
            s, [AccountSpec(f"revenue:{i}", "service_revenue") for i in range(HOT)]
        )
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


FREEZE = True


def batched(url: str, requests: list[TransferRequest], size: int) -> float:
    sessions = make_sessionmaker(make_engine(url))
    if FREEZE:
        # The service freezes its start-up objects (gc.freeze) and holds one upload's requests
        # at a time; this process holds all of them, built before the clock starts, and the
        # cyclic collector would scan them all again at every full collection.
        gc.collect()
        gc.freeze()
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(requests), size):
        with transaction(sessions) as s:
            results = ledger.create_transfers(s, requests[i : i + size])
        assert all(r.ok for r in results)
    CPU_US[str(size)] = (time.process_time() - cpu) / len(requests) * 1e6
    rate = len(requests) / (time.perf_counter() - start)
    gc.unfreeze()
    return rate


def _backend_cpu(engine: Engine) -> tuple[int, float]:
    """PostgreSQL's backend process of the engine's one connection, and its CPU seconds so far
    (read from /proc: the server runs on this machine; -1.0 where that cannot be read)."""
    with engine.connect() as c:
        pid = int(c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    return pid, _proc_cpu(pid)


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return -1.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client(
    url: str,
    purses: list[int],
    hot: list[int],
    n: int,
    seed: int,
    start_at: float,
    out: mp.Queue,  # type: ignore[type-arg]
    path: str,
) -> None:
    requests = fares(purses, hot, n, seed)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    sessions = make_sessionmaker(engine)
    pid, server = _backend_cpu(engine) if url.startswith("postgresql") else (0, -1.0)
    while time.time() < start_at:
        time.sleep(0.001)
    t, cpu = time.perf_counter(), time.process_time()
    if path == "alone":  # one transfer, one transaction: no ORM session around it
        for r in requests:
            assert ledger.transfer_alone(engine, r).ok
    else:  # inside a request's session, as the service's endpoints call it
        for r in requests:
            with transaction(sessions) as s:
                assert ledger.create_transfers(s, [r])[0].ok
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    server = _proc_cpu(pid) - server if server >= 0 else -1.0
    out.put((n, wall, cpu, server))


def singles(url: str, purses: list[int], hot: list[int], n: int, clients: int, path: str) -> float:
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 2
    procs = [
        mp.Process(
            target=_client,
            args=(url, purses, hot, n // clients, 1000 + c, start_at, queue, path),
        )
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    done = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    count = sum(d[0] for d in done)
    CPU_US["1"] = sum(d[2] for d in done) / count * 1e6
    if all(d[3] >= 0 for d in done):
        CPU_US["1-server"] = sum(d[3] for d in done) / count * 1e6
    return count / max(d[1] for d in done)


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


def run_backend(
    name: str, url: str, n: int, single_n: int, sizes: list[int], path: str
) -> dict[str, float]:
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
        rates["1"] = singles(url, purses, hot, single_n, clients, path)
        server = CPU_US.pop("1-server", None)
        print(
            f"{name}: single transfers ({path}), {clients} clients: {rates['1']:,.0f} "
            f"transfers/s, {CPU_US['1']:.0f} µs client CPU per transfer"
            + (f", {server:.0f} µs server backend CPU" if server is not None else ""),
            flush=True,
        )
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=200_000)
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--sizes", default="5000,100,1", help="batch sizes; 1 = single transfers")
    parser.add_argument(
        "--singles",
        choices=("alone", "session"),
        default="alone",
        help="single transfers through ledger.transfer_alone (default) or create_transfers in "
        "an ORM session, as an endpoint's request does",
    )
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="batches without freezing the benchmark's own objects first (see batched())",
    )
    args = parser.parse_args()
    global FREEZE
    FREEZE = not args.no_freeze
    n, single_n = args.transfers, max(800, min(args.transfers // 10, 24_000))
    backends = args.backends.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    out: dict[str, dict[str, object]] = {"transfers_per_s": {}, "ceiling_rows_per_s": {}}
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite3"
            out["transfers_per_s"]["sqlite"] = run_backend(
                "sqlite", url, n, min(single_n, 3000), sizes, args.singles
            )
            out["ceiling_rows_per_s"]["sqlite"] = round(ceiling_sqlite(f"{tmp}/bare.sqlite3", n))
    if "postgresql" in backends:
        run_postgres(out, n, single_n, sizes, args.singles)
    for backend in out["transfers_per_s"].values():
        for k, v in backend.items():  # type: ignore[attr-defined]
            backend[k] = round(v)  # type: ignore[index]
    out["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "transfers": n}
    out["gc_freeze"] = FREEZE
    print(json.dumps(out))


def run_postgres(
    out: dict[str, dict[str, object]], n: int, single_n: int, sizes: list[int], path: str
) -> None:
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    db = f"cs_bench_ledger_{os.getpid()}"
    admin.execute(f'CREATE DATABASE "{db}"')
    try:
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{db}"
        settings = admin.execute(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit')"
        ).fetchone()
        assert settings == ("on", "on"), (
            f"PostgreSQL must be durable for this benchmark: {settings}"
        )
        out["transfers_per_s"]["postgresql"] = run_backend(
            "postgresql", url, n, single_n, sizes, path
        )
        out["ceiling_rows_per_s"]["postgresql"] = round(ceiling_pg(url, n))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
